package lambdarie

import "testing"

// TestSettings: each function's RIE gets the template's Timeout and
// MemorySize, the global ones here since no function sets its own.
func TestSettings(t *testing.T) {
	got, err := settings("../..", []string{"AuthFunction", "SendMessageFunction"})
	if err != nil {
		t.Fatal(err)
	}
	for id, env := range got {
		if env["AWS_LAMBDA_FUNCTION_TIMEOUT"] != "15" || env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "256" {
			t.Errorf("%s: %v, want Timeout 15 and MemorySize 256 from Globals", id, env)
		}
	}
	if len(got) != 2 {
		t.Errorf("settings for %d functions, want 2", len(got))
	}
}
