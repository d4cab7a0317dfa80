// Package chat is the chat domain: a room as an event-sourced aggregate, the
// events of its stream, the rules of the wire contract (names, limits, roles)
// and the typed errors that carry the contract's codes.
//
// It does no I/O and imports no AWS package: commands take the room's current
// state and return the events to append, and Apply folds an event into the
// state. The store adapters and the HTTP and WebSocket layers build on it.
package chat
