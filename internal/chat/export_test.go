package chat

import "slices"

// RegisteredEventTypes returns, sorted, the type names the decoder registry
// knows, so the external tests can check it against the declared constants.
func RegisteredEventTypes() []EventType {
	out := make([]EventType, 0, len(eventDecoders))
	for t := range eventDecoders {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
