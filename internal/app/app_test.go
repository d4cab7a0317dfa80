package app

import (
	"maps"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		EnvTableName:          "chat",
		EnvManagementEndpoint: "https://abc.execute-api.eu-west-3.amazonaws.com/prod",
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		fanout  string
		wantErr string
	}{
		// An older stack has no fan-out function: every function then
		// pushes its frames itself.
		{name: "no fan-out function", env: base},
		{name: "fan-out function", env: with(base, EnvFanoutFunction, "chat-FanoutFunction-abc"), fanout: "chat-FanoutFunction-abc"},
		{name: "no table", env: with(base, EnvTableName, ""), wantErr: EnvTableName},
		{name: "management endpoint not a URL", env: with(base, EnvManagementEndpoint, "abc"), wantErr: EnvManagementEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.FanoutFunction != tc.fanout {
				t.Errorf("FanoutFunction %q, want %q", c.FanoutFunction, tc.fanout)
			}
		})
	}
}

// with returns a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}
