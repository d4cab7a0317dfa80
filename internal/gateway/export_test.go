package gateway

// ScanFrames feeds a byte stream to a frame scanner in the given pieces
// and reports whether it found a frame over MaxFrameBytes, for the tests.
func ScanFrames(pieces ...[]byte) bool {
	var s frameScanner
	tooBig := false
	for _, p := range pieces {
		if s.scan(p) {
			tooBig = true
		}
	}
	return tooBig
}
