package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/chatroom/chat/internal/samtemplate"
)

// Function is one AWS::Serverless::Function of the template.
type Function struct {
	// LogicalID names the function in the template and in the Lambda
	// Invoke API of `sam local start-lambda`.
	LogicalID string
	// Dir is the function's package under functions/.
	Dir string
	// Env is the environment the template gives the function, resolved
	// for a local run.
	Env map[string]string
	// InvokedBy are the functions that name this one in their
	// environment (a variable !Ref <LogicalID>), to invoke it through the
	// Lambda Invoke API, as the pushers invoke the fan-out function.
	InvokedBy []string
}

// HTTPRoute is one route of the HTTP API.
type HTTPRoute struct {
	Method   string // ANY for every method
	Path     string // with {param} and {proxy+} segments
	Function string // logical id
}

// Key is the route key API Gateway puts in the event: "POST /rooms".
func (r HTTPRoute) Key() string { return r.Method + " " + r.Path }

// Routes is what the template declares: the functions, the HTTP API's
// routes and the WebSocket API's route keys.
type Routes struct {
	Functions map[string]*Function
	HTTP      []HTTPRoute
	WebSocket map[string]string // route key -> function logical id
	// WebHeaders are the headers CloudFront adds to the web client's
	// answers (its response headers policy), which the gateway adds to
	// the web client's files and config.json.
	WebHeaders http.Header
}

// Resolve gives CloudFormation's references their local values: each
// parameter or resource a !Ref or !Sub names maps to what it stands for
// here (the table's name, the emulator's address).
type Resolve map[string]string

// LoadRoutes reads the template and the Makefile that builds its functions.
func LoadRoutes(templatePath, makefilePath string, resolve Resolve) (*Routes, error) {
	t, err := samtemplate.Load(templatePath)
	if err != nil {
		return nil, err
	}
	dirs, err := buildTargets(makefilePath)
	if err != nil {
		return nil, err
	}
	r, err := routesOf(t, dirs, resolve)
	headers, herr := webHeaders(t)
	if herr != nil {
		err = errors.Join(err, fmt.Errorf("gateway: %w", herr))
	}
	if r != nil {
		r.WebHeaders = headers
	}
	return r, err
}

func routesOf(t *samtemplate.Template, dirs map[string]string, resolve Resolve) (*Routes, error) {
	globals := mapAt(t.Globals, "Function", "Environment", "Variables")
	r := &Routes{Functions: map[string]*Function{}, WebSocket: map[string]string{}}
	var errs []error
	invokedBy := map[string][]string{}
	// A function's !Ref is its name, which locally (the Lambda Invoke API
	// of the RIE router or `sam local start-lambda`) is its logical id.
	resolve = maps.Clone(resolve)
	for id, res := range t.Resources {
		if _, set := resolve[id]; !set && res.Type == "AWS::Serverless::Function" {
			if resolve == nil {
				resolve = Resolve{}
			}
			resolve[id] = id
		}
	}
	for id, res := range t.Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		dir, ok := dirs[id]
		if !ok {
			errs = append(errs, fmt.Errorf("function %s has no build-%s target in the Makefile", id, id))
			continue
		}
		env := map[string]string{}
		vars := mapAt(res.Properties, "Environment", "Variables")
		for _, layer := range []map[string]any{globals, vars} {
			for k, v := range layer {
				s, err := resolve.value(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("function %s, variable %s: %w", id, k, err))
				}
				env[k] = s
			}
		}
		r.Functions[id] = &Function{LogicalID: id, Dir: dir, Env: env}
		for _, v := range vars {
			if callee := refIn(v); callee != id && isFunction(t, callee) {
				invokedBy[callee] = append(invokedBy[callee], id)
			}
		}
		for name, ev := range mapAt(res.Properties, "Events") {
			e, _ := ev.(map[string]any)
			if e["Type"] != "HttpApi" {
				continue
			}
			p, _ := e["Properties"].(map[string]any)
			method, _ := p["Method"].(string)
			path, _ := p["Path"].(string)
			if method == "" || path == "" {
				errs = append(errs, fmt.Errorf("function %s, event %s: an HttpApi event needs Method and Path", id, name))
				continue
			}
			r.HTTP = append(r.HTTP, HTTPRoute{Method: strings.ToUpper(method), Path: path, Function: id})
		}
	}
	for callee, callers := range invokedBy {
		if fn, ok := r.Functions[callee]; ok {
			slices.Sort(callers)
			fn.InvokedBy = callers
		}
	}
	// WebSocket routes: Route -> Target integrations/<Integration> ->
	// IntegrationUri naming <Function>.Arn.
	for id, res := range t.Resources {
		if res.Type != "AWS::ApiGatewayV2::Route" {
			continue
		}
		key, _ := res.Properties["RouteKey"].(string)
		integ := refIn(res.Properties["Target"])
		target, ok := t.Resources[integ]
		if !ok || target.Type != "AWS::ApiGatewayV2::Integration" {
			errs = append(errs, fmt.Errorf("route %s (%s) targets %q, which is no integration", id, key, integ))
			continue
		}
		fn := strings.TrimSuffix(refIn(target.Properties["IntegrationUri"]), ".Arn")
		if _, ok := r.Functions[fn]; !ok {
			errs = append(errs, fmt.Errorf("route %s (%s): integration %s invokes %q, which is no function", id, key, integ, fn))
			continue
		}
		r.WebSocket[key] = fn
	}
	// Most specific first, the way API Gateway picks among routes.
	sort.SliceStable(r.HTTP, func(i, j int) bool { return specificity(r.HTTP[i]) > specificity(r.HTTP[j]) })
	return r, errors.Join(errs...)
}

func specificity(r HTTPRoute) int {
	score := 0
	for _, seg := range strings.Split(strings.Trim(r.Path, "/"), "/") {
		switch {
		case strings.HasSuffix(seg, "+}"):
		case strings.HasPrefix(seg, "{"):
			score += 10
		default:
			score += 100
		}
	}
	if r.Method != "ANY" {
		score++
	}
	return score
}

func isFunction(t *samtemplate.Template, id string) bool {
	res, ok := t.Resources[id]
	return ok && res.Type == "AWS::Serverless::Function"
}

// Check refuses a route table with a route that no handler serves, or a
// handler that no route reaches. A function without a route must be
// invoked by another function (Function.InvokedBy), as the fan-out
// function is by those that push: a function that neither a route nor a
// function reaches is a mistake in the template, not a kind of function.
func (r *Routes) Check(handlers map[string]any) error {
	var errs []error
	reached := map[string]bool{}
	for _, h := range r.HTTP {
		reached[h.Function] = true
	}
	for _, fn := range r.WebSocket {
		reached[fn] = true
	}
	for id, f := range r.Functions {
		if _, ok := handlers[f.Dir]; !ok {
			errs = append(errs, fmt.Errorf("function %s (functions/%s) has no handler", id, f.Dir))
		}
		if !reached[id] && len(f.InvokedBy) == 0 {
			errs = append(errs, fmt.Errorf("function %s has no route, and no function invokes it", id))
		}
	}
	for dir := range handlers {
		if !slices.ContainsFunc(mapsValues(r.Functions), func(f *Function) bool { return f.Dir == dir }) {
			errs = append(errs, fmt.Errorf("handler functions/%s is in no function of the template", dir))
		}
	}
	return errors.Join(errs...)
}

func mapsValues(m map[string]*Function) []*Function {
	out := make([]*Function, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// MatchHTTP finds the route for a request and its path parameters.
func (r *Routes) MatchHTTP(method, path string) (HTTPRoute, map[string]string, bool) {
	for _, route := range r.HTTP {
		if route.Method != "ANY" && route.Method != method {
			continue
		}
		if params, ok := matchPath(route.Path, path); ok {
			return route, params, true
		}
	}
	return HTTPRoute{}, nil, false
}

func matchPath(pattern, path string) (map[string]string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(xs) || xs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-2]] = strings.Join(xs[i:], "/")
			return params, true
		}
		if i >= len(xs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	return params, len(ps) == len(xs)
}

var buildTarget = regexp.MustCompile(`^build-([A-Za-z0-9]+):.*\./functions/([A-Za-z0-9_]+)`)

// buildTargets maps each function's logical id to its package directory,
// from the Makefile's build-<LogicalId> targets that SAM runs.
func buildTargets(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := buildTarget.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out, sc.Err()
}

func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return nil
		}
		m = next
	}
	return m
}

// refIn returns the logical id a reference names: `!Ref X` gives X,
// `!Sub integrations/${X}` gives X, `!GetAtt X.Arn` gives X.Arn; a !Sub
// naming several gives the first resource that is not a pseudo parameter.
func refIn(v any) string {
	t, ok := v.(samtemplate.Tagged)
	if !ok {
		return ""
	}
	s, _ := t.Value.(string)
	switch t.Tag {
	case "!Ref", "!GetAtt":
		return s
	case "!Sub":
		for _, m := range subVar.FindAllStringSubmatch(s, -1) {
			if !strings.HasPrefix(m[1], "AWS::") {
				return m[1]
			}
		}
	}
	return ""
}

var subVar = regexp.MustCompile(`\$\{([^}]+)\}`)

func (r Resolve) value(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return fmt.Sprint(x), nil
	case samtemplate.Tagged:
		s, _ := x.Value.(string)
		switch x.Tag {
		case "!Ref":
			if val, ok := r[s]; ok {
				return val, nil
			}
			return "", fmt.Errorf("!Ref %s has no local value", s)
		case "!Sub":
			var missing []string
			out := subVar.ReplaceAllStringFunc(s, func(m string) string {
				name := m[2 : len(m)-1]
				if val, ok := r[name]; ok {
					return val
				}
				missing = append(missing, name)
				return m
			})
			if len(missing) > 0 {
				return "", fmt.Errorf("!Sub %q: no local value for %s", s, strings.Join(missing, ", "))
			}
			return out, nil
		}
		return "", fmt.Errorf("%s is not resolved locally", x.Tag)
	}
	return "", fmt.Errorf("unsupported value %T", v)
}
