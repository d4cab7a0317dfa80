package lambdarie

import "fmt"

// KillRIE kills the RIE of the first instance of function fn, as a crash
// or a failed init ends one.
func (s *Stack) KillRIE(fn string) error {
	for _, inst := range s.instances {
		if p := inst.process(); p.fn.Name == fn {
			return p.cmd.Process.Kill()
		}
	}
	return fmt.Errorf("no instance of %s", fn)
}
