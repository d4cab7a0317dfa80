package lambdarie

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/chatroom/chat/internal/samtemplate"
)

// settings gives each function's Lambda settings from the template, as
// the RIE's variables: its Timeout (the RIE ends an invocation past it, as
// Lambda does, instead of its own default of 300 s) and MemorySize. A
// function's own properties win over Globals.Function's.
func settings(root string, ids []string) (map[string]map[string]string, error) {
	t, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, fmt.Errorf("lambdarie: %w", err)
	}
	globals, _ := t.Globals["Function"].(map[string]any)
	out := map[string]map[string]string{}
	for _, id := range ids {
		props := t.Resources[id].Properties
		env := map[string]string{}
		for prop, name := range map[string]string{"Timeout": "AWS_LAMBDA_FUNCTION_TIMEOUT", "MemorySize": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
			v, ok := props[prop]
			if !ok {
				v, ok = globals[prop]
			}
			if !ok {
				continue
			}
			n, err := strconv.Atoi(fmt.Sprint(v))
			if err != nil {
				return nil, fmt.Errorf("lambdarie: function %s: %s %v is not a whole number", id, prop, v)
			}
			env[name] = strconv.Itoa(n)
		}
		out[id] = env
	}
	return out, nil
}
