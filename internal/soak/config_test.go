package soak

import (
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{BaseURL: "http://127.0.0.1:3000", Connections: 10, Rooms: 2, Duration: time.Second}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"only drops", func(c *Config) { c.DropChance = 1 }, true},
		{"drops and leaves", func(c *Config) { c.DropChance, c.LeaveChance = 0.12, 0.15 }, true},
		{"no base URL", func(c *Config) { c.BaseURL = "" }, false},
		{"no connections", func(c *Config) { c.Connections = 0 }, false},
		{"no rooms", func(c *Config) { c.Rooms = 0 }, false},
		{"no duration", func(c *Config) { c.Duration = 0 }, false},
		{"negative period", func(c *Config) { c.ActionEvery = -time.Second }, false},
		{"negative chance", func(c *Config) { c.LeaveChance = -0.1 }, false},
		{"chances past one", func(c *Config) { c.DropChance, c.LeaveChance = 0.6, 0.5 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
