package gateway

// ScanFrames feeds a byte stream to a frame scanner in the given pieces
// and reports whether it found a frame over MaxFrameBytes and, if so, the
// number of the message holding it (from 0), for the tests.
func ScanFrames(pieces ...[]byte) (tooBig bool, at int64) {
	var s frameScanner
	for _, p := range pieces {
		if s.scan(p) {
			tooBig = true
		}
	}
	return tooBig, s.tooBigAt
}
