package samtemplate_test

// These tests hold template.yaml to what the code and the wire contract
// need: every function has code, a build target and a route; every route a
// function, an integration and a permission; every route of PROTOCOL.md is
// there and no other; the policies are least-privilege; the table, the
// outputs and the web bucket are as DESIGN.md describes.
//
// Each check is a function of a parsed model (template, Makefile, function
// packages) that returns the problems it finds, one sentence each, so that
// TestChecksCatchMistakes can run the same checks on broken copies and
// show that each one fails when it should.

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/samtemplate"
	"github.com/chatroom/chat/internal/store/boltstore"
)

const (
	repoRoot     = "../.."
	templateFile = "template.yaml"
	makefileName = "Makefile"
)

// Resource types the checks look at.
const (
	typeFunction    = "AWS::Serverless::Function"
	typeHTTPAPI     = "AWS::Serverless::HttpApi"
	typeAPI         = "AWS::ApiGatewayV2::Api"
	typeRoute       = "AWS::ApiGatewayV2::Route"
	typeIntegration = "AWS::ApiGatewayV2::Integration"
	typeStage       = "AWS::ApiGatewayV2::Stage"
	typePermission  = "AWS::Lambda::Permission"
	typeTable       = "AWS::DynamoDB::Table"
	typeBucket      = "AWS::S3::Bucket"
	typeBucketPol   = "AWS::S3::BucketPolicy"
	typeDistrib     = "AWS::CloudFront::Distribution"
	typeOAC         = "AWS::CloudFront::OriginAccessControl"
	typeHeaders     = "AWS::CloudFront::ResponseHeadersPolicy"
)

// contractHTTPRoutes is the HTTP API table of PROTOCOL.md with its
// Additions, method and path without the /api prefix, as HttpApi route
// keys.
var contractHTTPRoutes = []string{
	"POST /auth/signup",
	"POST /auth/login",
	"POST /auth/logout",
	"POST /auth/ticket",
	"GET /me",
	"POST /rooms",
	"GET /rooms",
	"GET /rooms/{room_id}",
	"PATCH /rooms/{room_id}",
	"POST /rooms/{room_id}/members",
	"DELETE /rooms/{room_id}/members/{username}",
	"DELETE /rooms/{room_id}",
	"GET /rooms/{room_id}/events",
	"POST /rooms/{room_id}/read",
	"POST /dms",
	"POST /me/blocks",
	"DELETE /me/blocks/{username}",
	"GET /me/blocks",
}

// catchAllHTTPRoutes answer route_not_found for paths the contract does
// not have (the rooms function serves them).
var catchAllHTTPRoutes = []string{"GET /{proxy+}", "POST /{proxy+}", "PUT /{proxy+}", "PATCH /{proxy+}", "DELETE /{proxy+}"}

// contractWebSocketRoutes are the route keys of PROTOCOL.md's WebSocket
// API: the three API Gateway routes and one per action (typing goes to
// $default).
var contractWebSocketRoutes = []string{"$connect", "$disconnect", "$default", "join_room", "send_message", "leave_room", "edit_message", "delete_message"}

// sharedRouteFunctions are the routes served by another route's function:
// edits and deletions are message writes, served with sends.
var sharedRouteFunctions = map[string]string{"edit_message": "send_message", "delete_message": "send_message"}

// ---- The model the checks read.

type model struct {
	tmpl *samtemplate.Template
	// targets maps a Makefile target to its recipe, with the Makefile's
	// own variables expanded (ARTIFACTS_DIR, which SAM sets, stays as is).
	targets map[string]string
	// packages holds the directories under functions/ that are Go main
	// packages.
	packages map[string]bool
}

// loaded is the model as read from disk, once: every test gets a deep copy
// to read or break (parsing the template for each of TestChecksCatchMistakes'
// cases was most of its time).
var loaded = sync.OnceValues(func() (*model, error) {
	tmpl, err := samtemplate.Load(filepath.Join(repoRoot, templateFile))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", templateFile, err)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, makefileName))
	if err != nil {
		return nil, fmt.Errorf("reading the Makefile: %w", err)
	}
	pkgs, err := mainPackages(filepath.Join(repoRoot, "functions"))
	if err != nil {
		return nil, fmt.Errorf("listing functions/: %w", err)
	}
	return &model{tmpl: tmpl, targets: parseMakefile(string(raw)), packages: pkgs}, nil
})

func loadModel(t *testing.T) *model {
	t.Helper()
	m, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &samtemplate.Template{
		Globals:    clone(m.tmpl.Globals),
		Parameters: clone(m.tmpl.Parameters),
		Conditions: clone(m.tmpl.Conditions),
		Outputs:    clone(m.tmpl.Outputs),
		Resources:  make(map[string]samtemplate.Resource, len(m.tmpl.Resources)),
	}
	for id, r := range m.tmpl.Resources {
		r.Properties = clone(r.Properties)
		r.Metadata = clone(r.Metadata)
		tmpl.Resources[id] = r
	}
	return &model{tmpl: tmpl, targets: maps.Clone(m.targets), packages: maps.Clone(m.packages)}
}

// clone deep-copies a parsed template value.
func clone[V any](v V) V {
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if x == nil {
				return x
			}
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		case []any:
			if x == nil {
				return x
			}
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		case samtemplate.Tagged:
			return samtemplate.Tagged{Tag: x.Tag, Value: walk(x.Value)}
		}
		return v
	}
	c, _ := walk(v).(V)
	return c
}

// mainPackages lists the directories of dir that hold a Go main package.
func mainPackages(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
			if err == nil && af.Name.Name == "main" {
				out[e.Name()] = true
				break
			}
		}
	}
	return out, nil
}

var (
	makeVar  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(:=|::=|\?=|\+=|=)\s*(.*)$`)
	makeRef  = regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
	fnPkgRef = regexp.MustCompile(`(?:^|\s)\./functions/([A-Za-z0-9_]+)/?(?:\s|$)`)
)

// parseMakefile reads the rules and simple variables of a Makefile: enough
// to know what `make build-<LogicalId>` runs.
func parseMakefile(text string) map[string]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	vars := map[string]string{}
	recipes := map[string][]string{}
	var current []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "\t") {
			for _, tg := range current {
				recipes[tg] = append(recipes[tg], strings.TrimSpace(line))
			}
			continue
		}
		current = nil
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if m := makeVar.FindStringSubmatch(line); m != nil {
			name, op, val := m[1], m[2], strings.TrimSpace(m[3])
			switch _, set := vars[name]; {
			case op == "?=" && set:
			case op == "+=":
				vars[name] = strings.TrimSpace(vars[name] + " " + val)
			default:
				vars[name] = val
			}
			continue
		}
		i := strings.Index(line, ":")
		if i <= 0 || strings.ContainsAny(line[:i], "=$\t") || (i+1 < len(line) && line[i+1] == '=') {
			continue
		}
		_, recipe, inline := strings.Cut(line[i+1:], ";")
		for _, tg := range strings.Fields(line[:i]) {
			if strings.HasPrefix(tg, ".") {
				continue // .PHONY and other special targets
			}
			current = append(current, tg)
			recipes[tg] = nil
			if inline {
				recipes[tg] = append(recipes[tg], strings.TrimSpace(recipe))
			}
		}
	}
	out := map[string]string{}
	for tg, lines := range recipes {
		s := strings.Join(lines, "\n")
		for range 10 {
			next := makeRef.ReplaceAllStringFunc(s, func(ref string) string {
				name := makeRef.FindStringSubmatch(ref)[1]
				if v, ok := vars[name]; ok {
					return v
				}
				return ref
			})
			if next == s {
				break
			}
			s = next
		}
		out[tg] = s
	}
	return out
}

// ---- Reading template values.

func str(v any) string {
	s, _ := v.(string)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asList is v as a list; a single value is a list of one.
func asList(v any) []any {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		return l
	default:
		return []any{v}
	}
}

// ref is X of `!Ref X` or `{Ref: X}`.
func ref(v any) (string, bool) {
	if tv, ok := v.(samtemplate.Tagged); ok && tv.Tag == "!Ref" {
		s, ok := tv.Value.(string)
		return s, ok
	}
	if m := asMap(v); len(m) == 1 {
		s, ok := m["Ref"].(string)
		return s, ok
	}
	return "", false
}

// getAtt is X and Attr of `!GetAtt X.Attr` (either form).
func getAtt(v any) (string, string, bool) {
	var val any
	if tv, ok := v.(samtemplate.Tagged); ok && tv.Tag == "!GetAtt" {
		val = tv.Value
	} else if m := asMap(v); len(m) == 1 && m["Fn::GetAtt"] != nil {
		val = m["Fn::GetAtt"]
	} else {
		return "", "", false
	}
	switch x := val.(type) {
	case string:
		res, attr, ok := strings.Cut(x, ".")
		return res, attr, ok
	case []any:
		if len(x) == 2 {
			return str(x[0]), str(x[1]), str(x[0]) != ""
		}
	}
	return "", "", false
}

// sub is the string of `!Sub s` or `!Sub [s, vars]` (either form).
func sub(v any) (string, bool) {
	var val any
	if tv, ok := v.(samtemplate.Tagged); ok && tv.Tag == "!Sub" {
		val = tv.Value
	} else if m := asMap(v); len(m) == 1 && m["Fn::Sub"] != nil {
		val = m["Fn::Sub"]
	} else {
		return "", false
	}
	switch x := val.(type) {
	case string:
		return x, true
	case []any:
		if len(x) >= 1 {
			s, ok := x[0].(string)
			return s, ok
		}
	}
	return "", false
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// refersTo lists the logical ids (and parameters) v refers to, through
// !Ref, !GetAtt or ${...} in !Sub, anywhere inside it.
func refersTo(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		if r, ok := ref(v); ok {
			out = append(out, r)
			return
		}
		if r, _, ok := getAtt(v); ok {
			out = append(out, r)
			return
		}
		if s, ok := sub(v); ok {
			for _, m := range subVar.FindAllStringSubmatch(s, -1) {
				name, _, _ := strings.Cut(m[1], ".")
				if !strings.HasPrefix(name, "AWS::") {
					out = append(out, name)
				}
			}
			return
		}
		switch x := v.(type) {
		case samtemplate.Tagged:
			walk(x.Value)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// show renders a value for a message.
func show(v any) string {
	switch x := v.(type) {
	case samtemplate.Tagged:
		return x.Tag + " " + show(x.Value)
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("%v", x)
	}
}

func (m *model) ofType(typ string) []string {
	var ids []string
	for id, r := range m.tmpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (m *model) isType(id, typ string) bool {
	r, ok := m.tmpl.Resources[id]
	return ok && r.Type == typ
}

// fnProp is a function's property, or the one Globals.Function gives it.
func (m *model) fnProp(id, key string) any {
	if v, ok := m.tmpl.Resources[id].Properties[key]; ok {
		return v
	}
	return asMap(m.tmpl.Globals["Function"])[key]
}

// functionPackage is the functions/<name> that `make build-<id>` builds.
func (m *model) functionPackage(id string) string {
	pkgs := fnPkgRef.FindAllStringSubmatch(m.targets["build-"+id], -1)
	if len(pkgs) != 1 {
		return ""
	}
	return pkgs[0][1]
}

type httpEvent struct {
	fn, name, key string
	api           any
}

// httpEvents lists the HttpApi events of every function, sorted.
func (m *model) httpEvents() []httpEvent {
	var out []httpEvent
	for _, fn := range m.ofType(typeFunction) {
		for name, ev := range asMap(m.tmpl.Resources[fn].Properties["Events"]) {
			e := asMap(ev)
			if str(e["Type"]) != "HttpApi" {
				continue
			}
			p := asMap(e["Properties"])
			out = append(out, httpEvent{fn: fn, name: name, key: str(p["Method"]) + " " + str(p["Path"]), api: p["ApiId"]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].fn+out[i].name < out[j].fn+out[j].name })
	return out
}

type wsRoute struct {
	id, key, api, integration string
}

var integrationTarget = regexp.MustCompile(`^integrations/\$\{([A-Za-z0-9]+)\}$`)

// routes lists the AWS::ApiGatewayV2::Route resources with the API and
// integration they name ("" where they name none this test can read).
func (m *model) routes() []wsRoute {
	var out []wsRoute
	for _, id := range m.ofType(typeRoute) {
		p := m.tmpl.Resources[id].Properties
		r := wsRoute{id: id, key: str(p["RouteKey"])}
		r.api, _ = ref(p["ApiId"])
		if s, ok := sub(p["Target"]); ok {
			if mm := integrationTarget.FindStringSubmatch(s); mm != nil {
				r.integration = mm[1]
			}
		}
		out = append(out, r)
	}
	return out
}

// integrationFunction is the function an integration invokes: the X of
// ${X.Arn} in its IntegrationUri.
func (m *model) integrationFunction(id string) string {
	uri := m.tmpl.Resources[id].Properties["IntegrationUri"]
	if s, ok := sub(uri); ok {
		for _, mm := range subVar.FindAllStringSubmatch(s, -1) {
			if res, attr, ok := strings.Cut(mm[1], "."); ok && attr == "Arn" {
				return res
			}
		}
	}
	if res, attr, ok := getAtt(uri); ok && attr == "Arn" {
		return res
	}
	return ""
}

// webSocketAPI is the logical id of the one WEBSOCKET API, or "".
func (m *model) webSocketAPI() string {
	for _, id := range m.ofType(typeAPI) {
		if str(m.tmpl.Resources[id].Properties["ProtocolType"]) == "WEBSOCKET" {
			return id
		}
	}
	return ""
}

// routeFunction is the function behind a route key of the WebSocket API.
func (m *model) routeFunction(key string) string {
	ws := m.webSocketAPI()
	for _, r := range m.routes() {
		if r.api == ws && r.key == key && m.isType(r.integration, typeIntegration) {
			return m.integrationFunction(r.integration)
		}
	}
	return ""
}

// table is the logical id of the one DynamoDB table ("ChatTable").
func (m *model) table() string {
	if ids := m.ofType(typeTable); len(ids) == 1 {
		return ids[0]
	}
	return "ChatTable"
}

// ---- The checks.

// checkFunction: built by the Makefile for provided.al2023 on arm64 from a
// functions/<name> main package.
func checkFunction(m *model, id string) []string {
	var p []string
	r, ok := m.tmpl.Resources[id]
	if !ok || r.Type != typeFunction {
		return []string{fmt.Sprintf("%s is not an %s in the template", id, typeFunction)}
	}
	if got := r.Metadata["BuildMethod"]; got != "makefile" {
		p = append(p, fmt.Sprintf("%s: Metadata.BuildMethod is %s, want \"makefile\" (sam build runs the Makefile's build-%s target)", id, show(got), id))
	}
	for key, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap"} {
		if got := m.fnProp(id, key); got != want {
			p = append(p, fmt.Sprintf("%s: %s is %s (on the function or in Globals.Function), want %q", id, key, show(got), want))
		}
	}
	if got := asList(m.fnProp(id, "Architectures")); len(got) != 1 || got[0] != "arm64" {
		p = append(p, fmt.Sprintf("%s: Architectures is %v (on the function or in Globals.Function), want [arm64]", id, got))
	}
	if got := m.fnProp(id, "CodeUri"); got != "." && got != "./" {
		p = append(p, fmt.Sprintf("%s: CodeUri is %s, want \".\", the directory of the Makefile and go.mod", id, show(got)))
	}
	target := "build-" + id
	recipe, ok := m.targets[target]
	if !ok {
		return append(p, fmt.Sprintf("%s: the Makefile has no %s target, which `sam build` runs for BuildMethod makefile", id, target))
	}
	pkgs := fnPkgRef.FindAllStringSubmatch(recipe, -1)
	if len(pkgs) != 1 {
		return append(p, fmt.Sprintf("%s: the Makefile's %s target should build exactly one ./functions/<name> package; its recipe is %q", id, target, recipe))
	}
	if name := pkgs[0][1]; !m.packages[name] {
		p = append(p, fmt.Sprintf("%s: the Makefile's %s target builds ./functions/%s, which is not a Go main package in the repository", id, target, name))
	}
	for _, want := range []struct{ re, what string }{
		{`(^|\s)GOOS=linux(\s|$)`, "GOOS=linux"},
		{`(^|\s)GOARCH=arm64(\s|$)`, "GOARCH=arm64"},
		{`(^|\s)CGO_ENABLED=0(\s|$)`, "CGO_ENABLED=0 (a static binary)"},
		{`-tags[= ]['"]?[A-Za-z0-9_.,]*\blambda\.norpc\b`, "-tags lambda.norpc"},
		{`-trimpath`, "-trimpath"},
		{`-ldflags[= ]['"]?[^'"]*-s -w`, "-ldflags='-s -w'"},
		{`-o \$[({]ARTIFACTS_DIR[)}]/bootstrap(\s|$)`, "-o $(ARTIFACTS_DIR)/bootstrap"},
	} {
		if !regexp.MustCompile(want.re).MatchString(recipe) {
			p = append(p, fmt.Sprintf("%s: the Makefile's %s target does not build with %s; its recipe expands to %q", id, target, want.what, recipe))
		}
	}
	return p
}

func checkFunctions(m *model) []string {
	var p []string
	for _, id := range m.ofType(typeFunction) {
		p = append(p, checkFunction(m, id)...)
	}
	return p
}

// checkFunctionsHaveRoutes: every function is reachable, through an
// HttpApi event or a WebSocket route's integration.
func checkFunctionsHaveRoutes(m *model) []string {
	reach := map[string][]string{}
	for _, e := range m.httpEvents() {
		reach[e.fn] = append(reach[e.fn], e.key)
	}
	for _, r := range m.routes() {
		if m.isType(r.integration, typeIntegration) {
			fn := m.integrationFunction(r.integration)
			reach[fn] = append(reach[fn], r.key)
		}
	}
	invoked := m.invokedFunctions()
	var p []string
	for _, fn := range m.ofType(typeFunction) {
		// A function without a route is reached only through the Lambda
		// Invoke API, so another function must name it to invoke it
		// (the fan-out function); anything else is dead code deployed.
		if len(reach[fn]) == 0 && len(invoked[fn]) == 0 {
			p = append(p, fmt.Sprintf("%s has no route: no HttpApi event, no AWS::ApiGatewayV2::Route whose integration invokes it, and no function invokes it (an environment variable !Ref %s)", fn, fn))
		}
	}
	return p
}

// invokedFunctions maps each function another function invokes to those
// that do: a function whose Environment.Variables holds !Ref <function>
// invokes it through the Lambda Invoke API (FANOUT_FUNCTION).
func (m *model) invokedFunctions() map[string][]string {
	out := map[string][]string{}
	for _, caller := range m.ofType(typeFunction) {
		for _, v := range asMap(asMap(m.tmpl.Resources[caller].Properties["Environment"])["Variables"]) {
			if r, ok := ref(v); ok && r != caller && m.isType(r, typeFunction) {
				out[r] = append(out[r], caller)
			}
		}
	}
	return out
}

// fanoutPushers are the functions whose handlers can reach pushChange
// (internal/wsapi/fanout.go), so push a big room in shards: the WebSocket
// ones that append to a room (join, send, leave, $disconnect), and, by
// forgetting a gone connection, which announces its leaves, $default and
// the rooms API. Auth only closes sockets and $connect pushes nothing;
// the fan-out function pushes its own (quiet) leaves, never invoking
// itself.
var fanoutPushers = []string{"DefaultFunction", "DisconnectFunction", "JoinRoomFunction", "LeaveRoomFunction", "RoomsFunction", "SendMessageFunction"}

// checkFanout: the functions that push changes, and only they, name the
// fan-out function (FANOUT_FUNCTION) and may invoke it, and nothing else;
// it has no route and no retries.
func checkFanout(m *model) []string {
	var p []string
	fanout := ""
	for _, fn := range m.ofType(typeFunction) {
		if m.functionPackage(fn) == "fanout" {
			fanout = fn
		}
	}
	if fanout == "" {
		return []string{"no function is built from functions/fanout"}
	}
	if ev := m.tmpl.Resources[fanout].Properties["Events"]; ev != nil {
		p = append(p, fmt.Sprintf("%s has Events %s; it is invoked only by the functions that push", fanout, show(ev)))
	}
	cfg := asMap(m.tmpl.Resources[fanout].Properties["EventInvokeConfig"])
	if n, ok := cfg["MaximumRetryAttempts"].(int64); !ok || n != 0 {
		p = append(p, fmt.Sprintf("%s: EventInvokeConfig.MaximumRetryAttempts is %s, want 0 (a retried shard posts its frames twice)", fanout, show(cfg["MaximumRetryAttempts"])))
	}
	if n, ok := cfg["MaximumEventAgeInSeconds"].(int64); !ok || n > 300 {
		p = append(p, fmt.Sprintf("%s: EventInvokeConfig.MaximumEventAgeInSeconds is %s, want at most 300 (a late shard's frame is long overtaken)", fanout, show(cfg["MaximumEventAgeInSeconds"])))
	}
	for _, fn := range m.ofType(typeFunction) {
		want := slices.Contains(fanoutPushers, fn)
		env := asMap(asMap(m.tmpl.Resources[fn].Properties["Environment"])["Variables"])
		r, named := ref(env["FANOUT_FUNCTION"])
		switch {
		case want && (!named || r != fanout):
			p = append(p, fmt.Sprintf("%s: FANOUT_FUNCTION is %s, want !Ref %s", fn, show(env["FANOUT_FUNCTION"]), fanout))
		case !want && env["FANOUT_FUNCTION"] != nil:
			p = append(p, fmt.Sprintf("%s: FANOUT_FUNCTION is set, but the function pushes no change", fn))
		}
		var granted []string
		for _, pol := range asList(m.tmpl.Resources[fn].Properties["Policies"]) {
			for _, st := range asList(asMap(pol)["Statement"]) {
				for _, a := range asList(asMap(st)["Action"]) {
					if strings.HasPrefix(strings.ToLower(str(a)), "lambda:") {
						for _, res := range asList(asMap(st)["Resource"]) {
							id, attr, ok := getAtt(res)
							if !ok || attr != "Arn" {
								id = show(res)
							}
							granted = append(granted, str(a)+" on "+id)
						}
					}
				}
			}
		}
		wantGrant := []string{"lambda:InvokeFunction on " + fanout}
		if !want {
			wantGrant = nil
		}
		if !slices.Equal(granted, wantGrant) {
			p = append(p, fmt.Sprintf("%s grants %v of Lambda, want %v", fn, granted, wantGrant))
		}
	}
	return p
}

// checkRouteTargets: every route reaches a function that exists, through
// an integration on the same API.
func checkRouteTargets(m *model) []string {
	var p []string
	httpAPIs := m.ofType(typeHTTPAPI)
	for _, e := range m.httpEvents() {
		api, ok := ref(e.api)
		switch {
		case e.api == nil:
			p = append(p, fmt.Sprintf("%s: HttpApi event %s (%s) has no ApiId, so SAM would put it on an implicit API instead of %v", e.fn, e.name, e.key, httpAPIs))
		case !ok || !m.isType(api, typeHTTPAPI):
			p = append(p, fmt.Sprintf("%s: HttpApi event %s (%s) has ApiId %s, which is not an %s of the template", e.fn, e.name, e.key, show(e.api), typeHTTPAPI))
		}
	}
	used := map[string]bool{}
	for _, r := range m.routes() {
		if !m.isType(r.api, typeAPI) {
			p = append(p, fmt.Sprintf("route %s (%s): ApiId %q is not an %s of the template", r.id, r.key, r.api, typeAPI))
		}
		if r.integration == "" {
			p = append(p, fmt.Sprintf("route %s (%s): Target %s is not !Sub integrations/${<Integration>}", r.id, r.key, show(m.tmpl.Resources[r.id].Properties["Target"])))
			continue
		}
		used[r.integration] = true
		if !m.isType(r.integration, typeIntegration) {
			p = append(p, fmt.Sprintf("route %s (%s): Target names %s, which is not an %s of the template", r.id, r.key, r.integration, typeIntegration))
			continue
		}
		if api, _ := ref(m.tmpl.Resources[r.integration].Properties["ApiId"]); api != r.api {
			p = append(p, fmt.Sprintf("route %s (%s) is on API %q but its integration %s is on API %q", r.id, r.key, r.api, r.integration, api))
		}
	}
	for _, id := range m.ofType(typeIntegration) {
		props := m.tmpl.Resources[id].Properties
		fn := m.integrationFunction(id)
		switch {
		case fn == "":
			p = append(p, fmt.Sprintf("integration %s: IntegrationUri %s names no function's Arn", id, show(props["IntegrationUri"])))
		case !m.isType(fn, typeFunction):
			p = append(p, fmt.Sprintf("integration %s invokes %s, which is not an %s of the template", id, fn, typeFunction))
		}
		if got := str(props["IntegrationType"]); got != "AWS_PROXY" {
			p = append(p, fmt.Sprintf("integration %s: IntegrationType is %q, want AWS_PROXY (the handlers take the API Gateway proxy event)", id, got))
		}
		if !used[id] {
			p = append(p, fmt.Sprintf("integration %s is the Target of no route", id))
		}
	}
	return p
}

var permissionSource = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{([A-Za-z0-9]+)\}/([^/]+)/(.+)$`)

// checkPermissions: API Gateway may invoke each route's function, for that
// route only.
func checkPermissions(m *model) []string {
	var p []string
	type perm struct {
		id, fn, api, stage, key string
	}
	var perms []perm
	for _, id := range m.ofType(typePermission) {
		props := m.tmpl.Resources[id].Properties
		fn, ok := ref(props["FunctionName"])
		if !ok {
			fn, _, _ = getAtt(props["FunctionName"])
		}
		if got := str(props["Principal"]); got != "apigateway.amazonaws.com" {
			p = append(p, fmt.Sprintf("permission %s: Principal is %q, want apigateway.amazonaws.com", id, got))
		}
		if got := str(props["Action"]); got != "lambda:InvokeFunction" {
			p = append(p, fmt.Sprintf("permission %s: Action is %q, want lambda:InvokeFunction", id, got))
		}
		src, ok := sub(props["SourceArn"])
		mm := permissionSource.FindStringSubmatch(src)
		if !ok || mm == nil {
			p = append(p, fmt.Sprintf("permission %s: SourceArn is %s, want !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${<Api>}/<stage>/<route key> (without it any API could invoke %s)", id, show(props["SourceArn"]), fn))
			continue
		}
		perms = append(perms, perm{id: id, fn: fn, api: mm[1], stage: mm[2], key: mm[3]})
	}
	for _, r := range m.routes() {
		if !m.isType(r.integration, typeIntegration) {
			continue // checkRouteTargets says so
		}
		fn := m.integrationFunction(r.integration)
		found := false
		var near []string
		for _, pm := range perms {
			if pm.fn != fn {
				continue
			}
			if pm.api == r.api && pm.key == r.key && (pm.stage == "*" || pm.stage == "${StageName}") {
				found = true
				break
			}
			near = append(near, fmt.Sprintf("%s allows ${%s}/%s/%s", pm.id, pm.api, pm.stage, pm.key))
		}
		if !found {
			msg := fmt.Sprintf("route %s (%s) invokes %s, but no AWS::Lambda::Permission lets apigateway.amazonaws.com invoke %s with SourceArn .../${%s}/*/%s", r.id, r.key, fn, fn, r.api, r.key)
			if len(near) > 0 {
				msg += " (" + strings.Join(near, "; ") + ")"
			}
			p = append(p, msg)
		}
	}
	return p
}

// checkWebSocketAPI: one WebSocket API routing on the frame's action, with
// exactly the contract's route keys, each on functions/<key>.
func checkWebSocketAPI(m *model) []string {
	var p []string
	var wsAPIs []string
	for _, id := range m.ofType(typeAPI) {
		if str(m.tmpl.Resources[id].Properties["ProtocolType"]) == "WEBSOCKET" {
			wsAPIs = append(wsAPIs, id)
		} else {
			p = append(p, fmt.Sprintf("%s %s has ProtocolType %s; the HTTP API is an %s and the only %s should be the WEBSOCKET one", typeAPI, id, show(m.tmpl.Resources[id].Properties["ProtocolType"]), typeHTTPAPI, typeAPI))
		}
	}
	if len(wsAPIs) != 1 {
		return append(p, fmt.Sprintf("want exactly one %s with ProtocolType WEBSOCKET, found %v", typeAPI, wsAPIs))
	}
	ws := wsAPIs[0]
	if got := m.tmpl.Resources[ws].Properties["RouteSelectionExpression"]; got != "$request.body.action" {
		p = append(p, fmt.Sprintf("%s: RouteSelectionExpression is %s, want \"$request.body.action\"", ws, show(got)))
	}
	keys := map[string][]string{}
	for _, r := range m.routes() {
		if r.api == ws {
			keys[r.key] = append(keys[r.key], r.id)
		}
	}
	for _, k := range contractWebSocketRoutes {
		switch ids := keys[k]; {
		case len(ids) == 0:
			p = append(p, fmt.Sprintf("%s has no route %q (PROTOCOL.md's WebSocket API needs it)", ws, k))
		case len(ids) > 1:
			p = append(p, fmt.Sprintf("%s has route key %q %d times: %v", ws, k, len(ids), ids))
		default:
			want := strings.TrimPrefix(k, "$")
			if shared, ok := sharedRouteFunctions[k]; ok {
				want = shared
			}
			if fn := m.routeFunction(k); fn != "" && m.functionPackage(fn) != want {
				p = append(p, fmt.Sprintf("route %q goes to %s, which the Makefile builds from functions/%s, want functions/%s", k, fn, m.functionPackage(fn), want))
			}
		}
	}
	for k, ids := range keys {
		if !slices.Contains(contractWebSocketRoutes, k) {
			p = append(p, fmt.Sprintf("%s has route %q (%v), which is not in PROTOCOL.md's WebSocket API (typing and unknown actions go to $default)", ws, k, ids))
		}
	}
	sort.Strings(p)
	return p
}

// checkHTTPRoutes: every route of the contract is an HttpApi event on
// exactly one function, and there is no other.
func checkHTTPRoutes(m *model) []string {
	var p []string
	on := map[string][]string{}
	for _, e := range m.httpEvents() {
		on[e.key] = append(on[e.key], e.fn+"."+e.name)
	}
	for _, k := range slices.Concat(contractHTTPRoutes, catchAllHTTPRoutes) {
		switch fns := on[k]; len(fns) {
		case 0:
			p = append(p, fmt.Sprintf("PROTOCOL.md's route %q is no HttpApi event of any function", k))
		case 1:
		default:
			p = append(p, fmt.Sprintf("route %q is an HttpApi event of more than one function: %v", k, fns))
		}
	}
	for k, fns := range on {
		if !slices.Contains(contractHTTPRoutes, k) && !slices.Contains(catchAllHTTPRoutes, k) {
			p = append(p, fmt.Sprintf("HttpApi event %q (%v) is not a route of PROTOCOL.md", k, fns))
		}
	}
	sort.Strings(p)
	return p
}

// checkHandlerRoutes: each function's HttpApi events are exactly the
// route keys its handler serves. handlers maps a functions/<name> package
// to its handler's RouteKeys.
func checkHandlerRoutes(m *model, handlers map[string][]string) []string {
	var p []string
	byFn := map[string][]string{}
	for _, e := range m.httpEvents() {
		byFn[e.fn] = append(byFn[e.fn], e.key)
	}
	served := map[string]bool{}
	for _, fn := range m.ofType(typeFunction) {
		events := byFn[fn]
		if len(events) == 0 {
			continue
		}
		pkg := m.functionPackage(fn)
		keys, ok := handlers[pkg]
		if !ok {
			p = append(p, fmt.Sprintf("%s has HttpApi events %v but functions/%s is not one of the HTTP handlers of internal/app (%v)", fn, events, pkg, mapKeys(handlers)))
			continue
		}
		served[pkg] = true
		for _, k := range events {
			if !slices.Contains(keys, k) {
				p = append(p, fmt.Sprintf("%s has HttpApi event %q, but the %s handler does not serve it (it would answer 404 route_not_found)", fn, k, pkg))
			}
		}
		for _, k := range keys {
			if !slices.Contains(events, k) {
				p = append(p, fmt.Sprintf("the %s handler serves %q, but %s has no HttpApi event for it (API Gateway would never route it there)", pkg, k, fn))
			}
		}
	}
	for _, pkg := range mapKeys(handlers) {
		if !served[pkg] {
			p = append(p, fmt.Sprintf("the %s handler serves %v, but no function built from functions/%s has HttpApi events", pkg, handlers[pkg], pkg))
		}
	}
	sort.Strings(p)
	return p
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// knownPolicyTemplates are the SAM policy templates a function may use:
// DynamoDB ones, scoped by TableName.
var knownPolicyTemplates = []string{"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy"}

// checkPolicies: the function may touch this table and post to this
// WebSocket API's connections, nothing else.
func checkPolicies(m *model, fn string) []string {
	var p []string
	props := m.tmpl.Resources[fn].Properties
	if role, ok := props["Role"]; ok {
		p = append(p, fmt.Sprintf("%s: Role %s replaces the policies SAM would scope; use Policies", fn, show(role)))
	}
	table := m.table()
	connect := m.routeFunction("$connect")
	if connect == "" {
		connect = "ConnectFunction"
	}
	for i, pol := range asList(props["Policies"]) {
		where := fmt.Sprintf("%s: Policies[%d]", fn, i)
		switch x := pol.(type) {
		case string:
			if x != "AWSLambdaBasicExecutionRole" {
				p = append(p, fmt.Sprintf("%s is the managed policy %q, which is not scoped to the chat's resources", where, x))
			}
			continue
		case map[string]any:
		default:
			p = append(p, fmt.Sprintf("%s is %s, which this test cannot read; use a policy template or a Statement", where, show(pol)))
			continue
		}
		for name, v := range pol.(map[string]any) {
			switch {
			case name == "Statement":
				p = append(p, checkStatements(m, fn, where, asList(v), table, fn == connect)...)
			case name == "Version":
			case slices.Contains(knownPolicyTemplates, name):
				if r, ok := ref(asMap(v)["TableName"]); !ok || r != table {
					p = append(p, fmt.Sprintf("%s: %s has TableName %s, want !Ref %s", where, name, show(asMap(v)["TableName"]), table))
				}
			default:
				p = append(p, fmt.Sprintf("%s: policy template %s is not one this test knows to be scoped to the chat's table (%v)", where, name, knownPolicyTemplates))
			}
		}
	}
	return p
}

func checkStatements(m *model, fn, where string, stmts []any, table string, isConnect bool) []string {
	var p []string
	ws := m.webSocketAPI()
	stage := "${StageName}"
	for _, id := range m.ofType(typeStage) {
		props := m.tmpl.Resources[id].Properties
		if api, _ := ref(props["ApiId"]); api == ws {
			if r, ok := ref(props["StageName"]); ok {
				stage = "${" + r + "}"
			} else if s := str(props["StageName"]); s != "" {
				stage = regexp.QuoteMeta(s)
			}
		}
	}
	manage := regexp.MustCompile(`^arn:(\$\{AWS::Partition\}|aws):execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{` + ws + `\}/` + regexp.QuoteMeta(stage) + `/(POST|GET|DELETE)/@connections/\*$`)
	for j, s := range stmts {
		st := asMap(s)
		w := fmt.Sprintf("%s.Statement[%d]", where, j)
		if st == nil {
			p = append(p, fmt.Sprintf("%s is %s, not a statement", w, show(s)))
			continue
		}
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := st[k]; ok {
				p = append(p, fmt.Sprintf("%s uses %s, which grants everything but what it lists", w, k))
			}
		}
		if str(st["Effect"]) == "Deny" {
			continue
		}
		resources := asList(st["Resource"])
		if len(resources) == 0 {
			p = append(p, fmt.Sprintf("%s has no Resource", w))
		}
		for _, r := range resources {
			if r == "*" {
				p = append(p, fmt.Sprintf("%s has Resource \"*\"", w))
			}
		}
		for _, a := range asList(st["Action"]) {
			action, ok := a.(string)
			if !ok {
				p = append(p, fmt.Sprintf("%s has Action %s, not a string", w, show(a)))
				continue
			}
			if action == "*" {
				p = append(p, fmt.Sprintf("%s has Action \"*\"", w))
				continue
			}
			svc, op, _ := strings.Cut(strings.ToLower(action), ":")
			if strings.Contains(op, "*") {
				p = append(p, fmt.Sprintf("%s has the wildcard Action %q; name the actions", w, action))
			}
			switch svc {
			case "dynamodb":
				for _, r := range resources {
					if !slices.Contains(refersTo(r), table) {
						p = append(p, fmt.Sprintf("%s grants %s on %s, which is not the table %s", w, action, show(r), table))
					}
				}
			case "execute-api":
				if op != "manageconnections" {
					p = append(p, fmt.Sprintf("%s grants %s; the functions need only execute-api:ManageConnections", w, action))
				}
				if isConnect {
					p = append(p, fmt.Sprintf("%s grants %s to the $connect function, which posts to no connection", w, action))
				}
				for _, r := range resources {
					if s, ok := sub(r); !ok || !manage.MatchString(s) {
						p = append(p, fmt.Sprintf("%s grants %s on %s, want !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${%s}/%s/<POST|GET|DELETE>/@connections/*", w, action, show(r), ws, stage))
					}
				}
			case "lambda":
				// Which functions, on what: checkFanout.
				if op != "invokefunction" {
					p = append(p, fmt.Sprintf("%s grants %s; the functions need only lambda:InvokeFunction", w, action))
				}
			default:
				p = append(p, fmt.Sprintf("%s grants %s; the functions use only DynamoDB (the table %s), execute-api:ManageConnections and lambda:InvokeFunction", w, action, table))
			}
		}
	}
	return p
}

func checkAllPolicies(m *model) []string {
	var p []string
	for _, fn := range m.ofType(typeFunction) {
		p = append(p, checkPolicies(m, fn)...)
	}
	return p
}

// checkTable: on demand, TTL on expires_at, point-in-time recovery.
func checkTable(m *model) []string {
	ids := m.ofType(typeTable)
	if len(ids) != 1 {
		return []string{fmt.Sprintf("want exactly one %s, found %v", typeTable, ids)}
	}
	id := ids[0]
	props := m.tmpl.Resources[id].Properties
	var p []string
	if got := props["BillingMode"]; got != "PAY_PER_REQUEST" {
		p = append(p, fmt.Sprintf("%s: BillingMode is %s, want PAY_PER_REQUEST", id, show(got)))
	}
	ttl := asMap(props["TimeToLiveSpecification"])
	if ttl["AttributeName"] != "expires_at" || ttl["Enabled"] != true {
		p = append(p, fmt.Sprintf("%s: TimeToLiveSpecification is %v, want AttributeName expires_at, Enabled true", id, show(props["TimeToLiveSpecification"])))
	}
	if pitr := asMap(props["PointInTimeRecoverySpecification"]); pitr["PointInTimeRecoveryEnabled"] != true {
		p = append(p, fmt.Sprintf("%s: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is %s, want true", id, show(pitr["PointInTimeRecoveryEnabled"])))
	}
	return p
}

// checkOutputs: the URLs the client and deploy scripts need, and the table.
func checkOutputs(m *model) []string {
	var p []string
	want := map[string]struct{ prefix, refers, typ string }{
		"HttpApiUrl":   {"https://", "", typeHTTPAPI},
		"WebSocketUrl": {"wss://", m.webSocketAPI(), typeAPI},
		"WebUrl":       {"https://", "", typeDistrib},
		"TableName":    {"", m.table(), typeTable},
	}
	for _, name := range mapKeys(want) {
		w := want[name]
		out := asMap(m.tmpl.Outputs[name])
		if out == nil {
			p = append(p, fmt.Sprintf("Outputs has no %s", name))
			continue
		}
		v := out["Value"]
		if v == nil {
			p = append(p, fmt.Sprintf("output %s has no Value", name))
			continue
		}
		refs := refersTo(v)
		ok := false
		for _, r := range refs {
			if m.isType(r, w.typ) && (w.refers == "" || r == w.refers) {
				ok = true
			}
		}
		if !ok {
			p = append(p, fmt.Sprintf("output %s is %s, which refers to no %s", name, show(v), w.typ))
		}
		if s, isSub := sub(v); w.prefix != "" && (!isSub || !strings.HasPrefix(s, w.prefix)) {
			p = append(p, fmt.Sprintf("output %s is %s, want a !Sub starting with %s", name, show(v), w.prefix))
		}
	}
	return p
}

// checkWebBucket: a private bucket only CloudFront, for this distribution,
// may read.
func checkWebBucket(m *model) []string {
	var p []string
	buckets := m.ofType(typeBucket)
	if len(buckets) == 0 {
		return []string{"the template has no " + typeBucket + " for the web client"}
	}
	for _, b := range buckets {
		block := asMap(m.tmpl.Resources[b].Properties["PublicAccessBlockConfiguration"])
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if block[k] != true {
				p = append(p, fmt.Sprintf("bucket %s: PublicAccessBlockConfiguration.%s is %s, want true", b, k, show(block[k])))
			}
		}
		var policies []string
		for _, id := range m.ofType(typeBucketPol) {
			if r, _ := ref(m.tmpl.Resources[id].Properties["Bucket"]); r == b {
				policies = append(policies, id)
			}
		}
		if len(policies) == 0 {
			p = append(p, fmt.Sprintf("bucket %s has no %s letting CloudFront read it", b, typeBucketPol))
		}
		for _, id := range policies {
			doc := asMap(m.tmpl.Resources[id].Properties["PolicyDocument"])
			for j, s := range asList(doc["Statement"]) {
				w := fmt.Sprintf("bucket policy %s: Statement[%d]", id, j)
				st := asMap(s)
				if str(st["Effect"]) == "Deny" {
					continue
				}
				principal := asMap(st["Principal"])
				if len(principal) != 1 || principal["Service"] != "cloudfront.amazonaws.com" {
					p = append(p, fmt.Sprintf("%s allows Principal %s, want only {Service: cloudfront.amazonaws.com}", w, show(st["Principal"])))
				}
				for _, a := range asList(st["Action"]) {
					if a != "s3:GetObject" {
						p = append(p, fmt.Sprintf("%s allows Action %s, want only s3:GetObject", w, show(a)))
					}
				}
				for _, r := range asList(st["Resource"]) {
					if !slices.Contains(refersTo(r), b) {
						p = append(p, fmt.Sprintf("%s allows Resource %s, which is not in bucket %s", w, show(r), b))
					}
				}
				cond := asMap(asMap(st["Condition"])["StringEquals"])
				src := cond["AWS:SourceArn"]
				if src == nil {
					src = cond["aws:SourceArn"]
				}
				hasDistrib := false
				for _, r := range refersTo(src) {
					hasDistrib = hasDistrib || m.isType(r, typeDistrib)
				}
				if !hasDistrib {
					p = append(p, fmt.Sprintf("%s has no Condition StringEquals AWS:SourceArn naming the template's CloudFront distribution (found %s), so any distribution could read the bucket", w, show(src)))
				}
			}
		}
	}
	return p
}

// checkDistribution: CloudFront reads the bucket with origin access control.
func checkDistribution(m *model) []string {
	var p []string
	ids := m.ofType(typeDistrib)
	if len(ids) == 0 {
		return []string{"the template has no " + typeDistrib + " serving the web client"}
	}
	for _, id := range ids {
		cfg := asMap(m.tmpl.Resources[id].Properties["DistributionConfig"])
		origins := asList(cfg["Origins"])
		if len(origins) == 0 {
			p = append(p, fmt.Sprintf("distribution %s has no Origins", id))
		}
		for j, o := range origins {
			origin := asMap(o)
			oac := origin["OriginAccessControlId"]
			okOAC := false
			for _, r := range refersTo(oac) {
				okOAC = okOAC || m.isType(r, typeOAC)
			}
			if !okOAC {
				p = append(p, fmt.Sprintf("distribution %s: Origins[%d].OriginAccessControlId is %s, want !GetAtt <%s>.Id", id, j, show(oac), typeOAC))
			}
			if oai := str(asMap(origin["S3OriginConfig"])["OriginAccessIdentity"]); oai != "" {
				p = append(p, fmt.Sprintf("distribution %s: Origins[%d] uses the legacy origin access identity %q; use only origin access control", id, j, oai))
			}
		}
		if v := asMap(cfg["DefaultCacheBehavior"])["ViewerProtocolPolicy"]; v != "redirect-to-https" && v != "https-only" {
			p = append(p, fmt.Sprintf("distribution %s: DefaultCacheBehavior.ViewerProtocolPolicy is %s, want redirect-to-https or https-only", id, show(v)))
		}
	}
	return p
}

// metaCSP is the Content-Security-Policy of web/index.html's meta tag.
var metaCSP = regexp.MustCompile(`(?s)<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"`)

// cspDirectives splits a policy into its directives, by name.
func cspDirectives(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		fields := strings.Fields(d)
		if len(fields) > 0 {
			out[strings.ToLower(fields[0])] = strings.Join(fields[1:], " ")
		}
	}
	return out
}

// checkSecurityHeaders: the distribution's default cache behavior sends
// the web client's security headers through a response headers policy:
// the page's own Content-Security-Policy (web/index.html's meta tag, which
// cannot say frame-ancestors) plus frame-ancestors 'none', nosniff, DENY,
// no-referrer, HSTS and a Permissions-Policy, each overriding what the
// origin says.
func checkSecurityHeaders(m *model) []string {
	var p []string
	raw, err := os.ReadFile(filepath.Join(repoRoot, "web", "index.html"))
	if err != nil {
		return []string{"reading web/index.html: " + err.Error()}
	}
	meta := metaCSP.FindSubmatch(raw)
	if meta == nil {
		return []string{"web/index.html has no Content-Security-Policy meta tag"}
	}
	ids := m.ofType(typeDistrib)
	if len(ids) == 0 {
		return []string{"the template has no " + typeDistrib}
	}
	for _, id := range ids {
		behavior := asMap(asMap(m.tmpl.Resources[id].Properties["DistributionConfig"])["DefaultCacheBehavior"])
		raw := behavior["ResponseHeadersPolicyId"]
		policyID, _ := ref(raw)
		if !m.isType(policyID, typeHeaders) {
			p = append(p, fmt.Sprintf("distribution %s: DefaultCacheBehavior.ResponseHeadersPolicyId is %s, want !Ref <%s>", id, show(raw), typeHeaders))
			continue
		}
		cfg := asMap(m.tmpl.Resources[policyID].Properties["ResponseHeadersPolicyConfig"])
		sec := asMap(cfg["SecurityHeadersConfig"])
		where := "response headers policy " + policyID
		overrides := func(name string) map[string]any {
			h := asMap(sec[name])
			if h == nil {
				p = append(p, fmt.Sprintf("%s: SecurityHeadersConfig.%s is nothing", where, name))
			} else if h["Override"] != true {
				p = append(p, fmt.Sprintf("%s: SecurityHeadersConfig.%s.Override is %s, want true", where, name, show(h["Override"])))
			}
			return h
		}
		csp := str(overrides("ContentSecurityPolicy")["ContentSecurityPolicy"])
		got := cspDirectives(csp)
		if got["frame-ancestors"] != "'none'" {
			p = append(p, fmt.Sprintf("%s: the Content-Security-Policy %q has frame-ancestors %q, want 'none'", where, csp, got["frame-ancestors"]))
		}
		for name, value := range cspDirectives(string(meta[1])) {
			if got[name] != value {
				p = append(p, fmt.Sprintf("%s: the Content-Security-Policy has %s %q, web/index.html's meta tag %q", where, name, got[name], value))
			}
		}
		for name := range got {
			if _, inMeta := cspDirectives(string(meta[1]))[name]; !inMeta && name != "frame-ancestors" {
				p = append(p, fmt.Sprintf("%s: the Content-Security-Policy has %s, which web/index.html's meta tag does not: keep the two in step", where, name))
			}
		}
		overrides("ContentTypeOptions")
		if v := overrides("FrameOptions")["FrameOption"]; v != "DENY" {
			p = append(p, fmt.Sprintf("%s: FrameOptions.FrameOption is %s, want DENY", where, show(v)))
		}
		if v := overrides("ReferrerPolicy")["ReferrerPolicy"]; v != "no-referrer" {
			p = append(p, fmt.Sprintf("%s: ReferrerPolicy.ReferrerPolicy is %s, want no-referrer", where, show(v)))
		}
		if age, _ := overrides("StrictTransportSecurity")["AccessControlMaxAgeSec"].(int64); age < 365*24*3600 {
			p = append(p, fmt.Sprintf("%s: StrictTransportSecurity.AccessControlMaxAgeSec is %d, want at least a year", where, age))
		}
		permissions := false
		for _, it := range asList(asMap(cfg["CustomHeadersConfig"])["Items"]) {
			item := asMap(it)
			if strings.EqualFold(str(item["Header"]), "Permissions-Policy") && strings.Contains(str(item["Value"]), "camera=()") && item["Override"] == true {
				permissions = true
			}
		}
		if !permissions {
			p = append(p, fmt.Sprintf("%s: CustomHeadersConfig has no Permissions-Policy (overriding, camera=() among others)", where))
		}
	}
	return p
}

// ---- The tests.

func report(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

func TestFunctions(t *testing.T) {
	m := loadModel(t)
	fns := m.ofType(typeFunction)
	if len(fns) == 0 {
		t.Fatalf("%s has no %s", templateFile, typeFunction)
	}
	for _, fn := range fns {
		t.Run(fn, func(t *testing.T) { report(t, checkFunction(m, fn)) })
	}
}

func TestEveryFunctionHasARoute(t *testing.T) { report(t, checkFunctionsHaveRoutes(loadModel(t))) }

func TestRoutesReachFunctions(t *testing.T) { report(t, checkRouteTargets(loadModel(t))) }

func TestInvokePermissions(t *testing.T) { report(t, checkPermissions(loadModel(t))) }

func TestFanout(t *testing.T) { report(t, checkFanout(loadModel(t))) }

func TestWebSocketAPI(t *testing.T) { report(t, checkWebSocketAPI(loadModel(t))) }

func TestHTTPRoutesMatchContract(t *testing.T) { report(t, checkHTTPRoutes(loadModel(t))) }

func TestHTTPRoutesMatchHandlers(t *testing.T) {
	report(t, checkHandlerRoutes(loadModel(t), handlerRoutes(t)))
}

func TestLeastPrivilege(t *testing.T) {
	m := loadModel(t)
	for _, fn := range m.ofType(typeFunction) {
		t.Run(fn, func(t *testing.T) { report(t, checkPolicies(m, fn)) })
	}
}

func TestTable(t *testing.T) { report(t, checkTable(loadModel(t))) }

func TestOutputs(t *testing.T) { report(t, checkOutputs(loadModel(t))) }

func TestWebBucket(t *testing.T) { report(t, checkWebBucket(loadModel(t))) }

func TestWebDistribution(t *testing.T) { report(t, checkDistribution(loadModel(t))) }

func TestWebSecurityHeaders(t *testing.T) { report(t, checkSecurityHeaders(loadModel(t))) }

// nopPusher pushes nowhere: the handlers are only built to list routes.
type nopPusher struct{}

func (nopPusher) Post(context.Context, []string, []byte) push.Result { return push.Result{} }
func (nopPusher) Disconnect(context.Context, string) error           { return nil }

// handlerRoutes builds the HTTP handlers as the functions do and lists the
// route keys each serves, by functions/<name>.
func handlerRoutes(t *testing.T) map[string][]string {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := auth.DefaultConfig()
	cfg.Params = authtest.Params // no password is hashed here
	a, err := app.NewLocal(st, nopPusher{}, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	authAPI, err := a.AuthAPI()
	if err != nil {
		t.Fatal(err)
	}
	roomsAPI, err := a.RoomsAPI()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string][]string{"auth": authAPI.RouteKeys(), "rooms": roomsAPI.RouteKeys()}
	// The two together are the contract's HTTP table.
	union := slices.Concat(routes["auth"], routes["rooms"])
	slices.Sort(union)
	want := slices.Concat(contractHTTPRoutes, catchAllHTTPRoutes)
	slices.Sort(want)
	if !slices.Equal(union, want) {
		t.Errorf("AuthAPI().RouteKeys() ∪ RoomsAPI().RouteKeys() = %v, want PROTOCOL.md's %v", union, want)
	}
	return routes
}

// TestChecksCatchMistakes breaks a fresh copy of the template (or of the
// Makefile and functions/ as the model holds them) in one way per case and
// asserts that the check meant for it reports the break.
func TestChecksCatchMistakes(t *testing.T) {
	res := func(m *model, id string) map[string]any { return m.tmpl.Resources[id].Properties }
	addStatement := func(m *model, fn string, st map[string]any) {
		p := res(m, fn)
		p["Policies"] = append(asList(p["Policies"]), map[string]any{"Statement": []any{st}})
	}
	subOf := func(s string) samtemplate.Tagged { return samtemplate.Tagged{Tag: "!Sub", Value: s} }
	refTo := func(s string) samtemplate.Tagged { return samtemplate.Tagged{Tag: "!Ref", Value: s} }
	getAttOf := func(s string) samtemplate.Tagged { return samtemplate.Tagged{Tag: "!GetAtt", Value: s} }
	handlers := func(t *testing.T) func(m *model) []string {
		h := handlerRoutes(t)
		return func(m *model) []string { return checkHandlerRoutes(m, h) }
	}

	cases := []struct {
		name   string
		mutate func(m *model)
		check  func(t *testing.T) func(m *model) []string
		want   string
	}{
		{"drop a WebSocket route", func(m *model) { delete(m.tmpl.Resources, "JoinRoomRoute") },
			fixed(checkWebSocketAPI), `has no route "join_room"`},
		{"a function without its route", func(m *model) { delete(m.tmpl.Resources, "JoinRoomRoute") },
			fixed(checkFunctionsHaveRoutes), "JoinRoomFunction has no route"},
		{"a typing route", func(m *model) {
			m.tmpl.Resources["TypingRoute"] = samtemplate.Resource{Type: typeRoute, Properties: map[string]any{
				"ApiId": refTo("WebSocketApi"), "RouteKey": "typing", "Target": subOf("integrations/${DefaultIntegration}")}}
		}, fixed(checkWebSocketAPI), `route "typing"`},
		{"a route to the wrong function", func(m *model) { res(m, "LeaveRoomRoute")["Target"] = subOf("integrations/${SendMessageIntegration}") },
			fixed(checkWebSocketAPI), `route "leave_room" goes to SendMessageFunction`},
		{"route selection on another field", func(m *model) { res(m, "WebSocketApi")["RouteSelectionExpression"] = "$request.body.type" },
			fixed(checkWebSocketAPI), "RouteSelectionExpression"},
		{"drop an HTTP route", func(m *model) { delete(asMap(res(m, "AuthFunction")["Events"]), "Me") },
			fixed(checkHTTPRoutes), `"GET /me" is no HttpApi event`},
		{"an HTTP route on two functions", func(m *model) {
			asMap(res(m, "RoomsFunction")["Events"])["Me"] = map[string]any{"Type": "HttpApi", "Properties": map[string]any{"ApiId": refTo("HttpApi"), "Method": "GET", "Path": "/me"}}
		}, fixed(checkHTTPRoutes), "more than one function"},
		{"an HTTP route outside the contract", func(m *model) {
			asMap(res(m, "AuthFunction")["Events"])["Password"] = map[string]any{"Type": "HttpApi", "Properties": map[string]any{"ApiId": refTo("HttpApi"), "Method": "PUT", "Path": "/auth/password"}}
		}, fixed(checkHTTPRoutes), `"PUT /auth/password"`},
		{"an HTTP route the handler does not serve", func(m *model) {
			asMap(res(m, "AuthFunction")["Events"])["Password"] = map[string]any{"Type": "HttpApi", "Properties": map[string]any{"ApiId": refTo("HttpApi"), "Method": "PUT", "Path": "/auth/password"}}
		}, handlers, `"PUT /auth/password", but the auth handler does not serve it`},
		{"a handler route without event", func(m *model) { delete(asMap(res(m, "RoomsFunction")["Events"]), "ListEvents") },
			handlers, `the rooms handler serves "GET /rooms/{room_id}/events", but RoomsFunction has no HttpApi event`},
		{"an HttpApi event without ApiId", func(m *model) {
			delete(asMap(asMap(asMap(res(m, "AuthFunction")["Events"])["Me"])["Properties"]), "ApiId")
		}, fixed(checkRouteTargets), "implicit API"},
		{"drop a Makefile target", func(m *model) { delete(m.targets, "build-SendMessageFunction") },
			fixed(checkFunctions), "the Makefile has no build-SendMessageFunction target"},
		{"a target building a missing package", func(m *model) { delete(m.packages, "send_message") },
			fixed(checkFunctions), "./functions/send_message, which is not a Go main package"},
		{"a target building for amd64", func(m *model) {
			m.targets["build-AuthFunction"] = strings.Replace(m.targets["build-AuthFunction"], "GOARCH=arm64", "GOARCH=amd64", 1)
		}, fixed(checkFunctions), "AuthFunction: the Makefile's build-AuthFunction target does not build with GOARCH=arm64"},
		{"drop a function", func(m *model) { delete(m.tmpl.Resources, "SendMessageFunction") },
			fixed(checkRouteTargets), "integration SendMessageIntegration invokes SendMessageFunction, which is not an AWS::Serverless::Function"},
		{"a route to a missing integration", func(m *model) { delete(m.tmpl.Resources, "LeaveRoomIntegration") },
			fixed(checkRouteTargets), "Target names LeaveRoomIntegration, which is not an"},
		{"an integration on another API", func(m *model) { res(m, "DefaultIntegration")["ApiId"] = refTo("HttpApi") },
			fixed(checkRouteTargets), `its integration DefaultIntegration is on API "HttpApi"`},
		{"another runtime in Globals", func(m *model) { asMap(m.tmpl.Globals["Function"])["Runtime"] = "provided.al2" },
			fixed(checkFunctions), `Runtime is "provided.al2"`},
		{"x86_64 on one function", func(m *model) { res(m, "RoomsFunction")["Architectures"] = []any{"x86_64"} },
			fixed(checkFunctions), "RoomsFunction: Architectures is [x86_64]"},
		{"no makefile build method", func(m *model) { m.tmpl.Resources["ConnectFunction"].Metadata["BuildMethod"] = "go1.x" },
			fixed(checkFunctions), "ConnectFunction: Metadata.BuildMethod"},
		{"add a * policy", func(m *model) {
			addStatement(m, "RoomsFunction", map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"})
		},
			fixed(checkAllPolicies), `has Action "*"`},
		{"add a * resource", func(m *model) {
			addStatement(m, "RoomsFunction", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"})
		}, fixed(checkAllPolicies), `has Resource "*"`},
		{"add a service wildcard", func(m *model) {
			addStatement(m, "AuthFunction", map[string]any{"Effect": "Allow", "Action": []any{"dynamodb:*"}, "Resource": samtemplate.Tagged{Tag: "!GetAtt", Value: "ChatTable.Arn"}})
		}, fixed(checkAllPolicies), `wildcard Action "dynamodb:*"`},
		{"DynamoDB on another table", func(m *model) {
			addStatement(m, "AuthFunction", map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": subOf("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other")})
		}, fixed(checkAllPolicies), "which is not the table ChatTable"},
		{"a CRUD policy on another table", func(m *model) {
			res(m, "JoinRoomFunction")["Policies"] = []any{map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": "other"}}}
		}, fixed(checkAllPolicies), `DynamoDBCrudPolicy has TableName "other"`},
		{"a managed policy", func(m *model) { res(m, "AuthFunction")["Policies"] = []any{"AmazonDynamoDBFullAccess"} },
			fixed(checkAllPolicies), `managed policy "AmazonDynamoDBFullAccess"`},
		{"ManageConnections on any API", func(m *model) {
			addStatement(m, "LeaveRoomFunction", map[string]any{"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": subOf("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:*/@connections/*")})
		}, fixed(checkAllPolicies), "LeaveRoomFunction: Policies[1].Statement[0] grants execute-api:ManageConnections on"},
		{"ManageConnections for $connect", func(m *model) {
			addStatement(m, "ConnectFunction", map[string]any{"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": subOf("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${StageName}/POST/@connections/*")})
		}, fixed(checkAllPolicies), "to the $connect function"},
		{"execute-api:Invoke", func(m *model) {
			addStatement(m, "DefaultFunction", map[string]any{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": subOf("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${StageName}/POST/@connections/*")})
		}, fixed(checkAllPolicies), "need only execute-api:ManageConnections"},
		{"another service", func(m *model) {
			addStatement(m, "DefaultFunction", map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": subOf("${WebBucket.Arn}/*")})
		}, fixed(checkAllPolicies), "grants s3:GetObject"},
		{"the fan-out function unnamed", func(m *model) {
			delete(asMap(asMap(res(m, "SendMessageFunction")["Environment"])["Variables"]), "FANOUT_FUNCTION")
		},
			fixed(checkFanout), "SendMessageFunction: FANOUT_FUNCTION is nothing"},
		{"a pusher that may not invoke the fan-out function", func(m *model) {
			pol := asMap(asList(res(m, "RoomsFunction")["Policies"])[0])
			pol["Statement"] = slices.DeleteFunc(slices.Clone(asList(pol["Statement"])), func(st any) bool { return asMap(st)["Sid"] == "Fanout" })
		}, fixed(checkFanout), "RoomsFunction grants [] of Lambda"},
		{"InvokeFunction on any function", func(m *model) {
			addStatement(m, "AuthFunction", map[string]any{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": subOf("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*")})
		}, fixed(checkFanout), "AuthFunction grants [lambda:InvokeFunction on"},
		{"another Lambda action", func(m *model) {
			addStatement(m, "DefaultFunction", map[string]any{"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": getAttOf("FanoutFunction.Arn")})
		}, fixed(checkAllPolicies), "need only lambda:InvokeFunction"},
		{"retried shards", func(m *model) {
			asMap(res(m, "FanoutFunction")["EventInvokeConfig"])["MaximumRetryAttempts"] = int64(2)
		},
			fixed(checkFanout), "MaximumRetryAttempts is 2"},
		{"a function nobody reaches", func(m *model) {
			for _, fn := range fanoutPushers {
				delete(asMap(asMap(res(m, fn)["Environment"])["Variables"]), "FANOUT_FUNCTION")
			}
		}, fixed(checkFunctionsHaveRoutes), "FanoutFunction has no route"},
		{"drop a permission", func(m *model) { delete(m.tmpl.Resources, "JoinRoomPermission") },
			fixed(checkPermissions), "route JoinRoomRoute (join_room) invokes JoinRoomFunction, but no AWS::Lambda::Permission"},
		{"a permission for another route key", func(m *model) {
			res(m, "SendMessagePermission")["SourceArn"] = subOf("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/*/join_room")
		}, fixed(checkPermissions), "SendMessagePermission allows ${WebSocketApi}/*/join_room"},
		{"a permission without SourceArn", func(m *model) { delete(res(m, "DefaultPermission"), "SourceArn") },
			fixed(checkPermissions), "permission DefaultPermission: SourceArn is nothing"},
		{"provisioned table", func(m *model) { res(m, "ChatTable")["BillingMode"] = "PROVISIONED" },
			fixed(checkTable), `BillingMode is "PROVISIONED"`},
		{"TTL on another attribute", func(m *model) { asMap(res(m, "ChatTable")["TimeToLiveSpecification"])["AttributeName"] = "ttl" },
			fixed(checkTable), "TimeToLiveSpecification"},
		{"no PITR", func(m *model) { delete(res(m, "ChatTable"), "PointInTimeRecoverySpecification") },
			fixed(checkTable), "PointInTimeRecoveryEnabled is nothing"},
		{"drop an output", func(m *model) { delete(m.tmpl.Outputs, "WebSocketUrl") },
			fixed(checkOutputs), "Outputs has no WebSocketUrl"},
		{"a public bucket", func(m *model) {
			asMap(res(m, "WebBucket")["PublicAccessBlockConfiguration"])["RestrictPublicBuckets"] = false
		}, fixed(checkWebBucket), "PublicAccessBlockConfiguration.RestrictPublicBuckets is false"},
		{"a bucket anyone may read", func(m *model) {
			st := asMap(asList(asMap(res(m, "WebBucketPolicy")["PolicyDocument"])["Statement"])[0])
			st["Principal"] = "*"
			delete(st, "Condition")
		}, fixed(checkWebBucket), `allows Principal "*"`},
		{"a bucket any distribution may read", func(m *model) {
			delete(asMap(asList(asMap(res(m, "WebBucketPolicy")["PolicyDocument"])["Statement"])[0]), "Condition")
		}, fixed(checkWebBucket), "no Condition StringEquals AWS:SourceArn"},
		{"a distribution without OAC", func(m *model) {
			delete(asMap(asList(asMap(res(m, "WebDistribution")["DistributionConfig"])["Origins"])[0]), "OriginAccessControlId")
		}, fixed(checkDistribution), "OriginAccessControlId is nothing"},
		{"no response headers policy", func(m *model) {
			delete(asMap(asMap(res(m, "WebDistribution")["DistributionConfig"])["DefaultCacheBehavior"]), "ResponseHeadersPolicyId")
		}, fixed(checkSecurityHeaders), "ResponseHeadersPolicyId is nothing"},
		{"a managed response headers policy", func(m *model) {
			asMap(asMap(res(m, "WebDistribution")["DistributionConfig"])["DefaultCacheBehavior"])["ResponseHeadersPolicyId"] = "67f7725c-6f97-4210-82d7-5512b31e9d03"
		}, fixed(checkSecurityHeaders), "want !Ref"},
		{"frames allowed", func(m *model) {
			csp := asMap(asMap(asMap(res(m, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"])["SecurityHeadersConfig"])["ContentSecurityPolicy"])
			csp["ContentSecurityPolicy"] = strings.Replace(str(csp["ContentSecurityPolicy"]), "frame-ancestors 'none'", "frame-ancestors *", 1)
		}, fixed(checkSecurityHeaders), "frame-ancestors \"*\", want 'none'"},
		{"a CSP wider than the page's", func(m *model) {
			csp := asMap(asMap(asMap(res(m, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"])["SecurityHeadersConfig"])["ContentSecurityPolicy"])
			csp["ContentSecurityPolicy"] = strings.Replace(str(csp["ContentSecurityPolicy"]), "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1)
		}, fixed(checkSecurityHeaders), "has script-src \"'self' 'unsafe-inline'\""},
		{"a header the origin may override", func(m *model) {
			asMap(asMap(asMap(res(m, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"])["SecurityHeadersConfig"])["FrameOptions"])["Override"] = false
		}, fixed(checkSecurityHeaders), "FrameOptions.Override is false"},
		{"no nosniff", func(m *model) {
			delete(asMap(asMap(res(m, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"])["SecurityHeadersConfig"]), "ContentTypeOptions")
		}, fixed(checkSecurityHeaders), "ContentTypeOptions is nothing"},
		{"no Permissions-Policy", func(m *model) {
			delete(asMap(res(m, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"]), "CustomHeadersConfig")
		}, fixed(checkSecurityHeaders), "no Permissions-Policy"},
	}
	for _, c := range operationsMistakes() {
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := c.check(t)
			m := loadModel(t)
			if got := check(m); len(got) != 0 {
				t.Fatalf("the check fails on the unbroken template already: %q", got)
			}
			c.mutate(m)
			got := check(m)
			for _, p := range got {
				if strings.Contains(p, c.want) {
					t.Logf("reported: %s", p)
					return
				}
			}
			t.Errorf("after breaking the template, the check reports %q; want a problem containing %q", got, c.want)
		})
	}
}

func fixed(check func(m *model) []string) func(t *testing.T) func(m *model) []string {
	return func(*testing.T) func(m *model) []string { return check }
}
