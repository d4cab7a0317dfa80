package auth

// SetDummyHash replaces the hash an unknown user's password is checked
// against, so a test can see that the check runs.
func SetDummyHash(s *Service, hash string) { s.dummyHash = hash }

// MaxMemoryKiB is the most memory a stored hash may ask for.
const MaxMemoryKiB = maxMemoryKiB

// FillHashQueue takes every hashing slot and every waiting place, as a
// burst of signups would; release gives them back.
func FillHashQueue(s *Service) (release func()) {
	n := cap(s.hashing)
	for range n {
		s.hashing <- struct{}{}
	}
	s.hashWaiters.Add(maxHashWaiters)
	return func() {
		s.hashWaiters.Add(-maxHashWaiters)
		for range n {
			<-s.hashing
		}
	}
}
