package auth

// SetDummyHash replaces the hash an unknown user's password is checked
// against, so a test can see that the check runs.
func SetDummyHash(s *Service, hash string) { s.dummyHash = hash }

// MaxMemoryKiB is the most memory a stored hash may ask for.
const MaxMemoryKiB = maxMemoryKiB
