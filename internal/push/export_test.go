package push

import "time"

// SetWorkerIdle shortens how long idle workers stay, for a test.
func (m *ManagementAPI) SetWorkerIdle(d time.Duration) { m.idle = d }

// Workers is how many workers are running.
func (m *ManagementAPI) Workers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.workers
}
