// Package soak holds many connections on the chat for a while, joining,
// leaving, dropping and resuming, sending all along, and then checks every
// room's stream against what each client saw: nothing acknowledged lost,
// nothing delivered twice or out of seq order beyond the two repeats the
// wire contract allows, no connection or presence item left once everyone
// has gone, and the process's heap back where it started.
//
// The checks live apart from the traffic (observe.go, check.go) so that
// each can be proved on hand-made observations; Run drives real clients
// through chatclient and feeds the checks what they read.
package soak
