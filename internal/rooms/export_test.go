package rooms

import "time"

// MaxAttempts is how often a command is decided before it gives up.
const MaxAttempts = maxAttempts

// SetMaxDeliveryWait shortens the wait for a stuck delivery, for a test.
func (s *Service) SetMaxDeliveryWait(d time.Duration) { s.SetOrderWait(d) }
