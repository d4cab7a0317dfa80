package samtemplate_test

// These tests hold template.yaml to what running the chat in production
// needs (docs/operations.md): JSON access logs on both API stages, an
// alarm for each way it fails and a topic they all notify, X-Ray on the
// functions, a dashboard, reserved concurrency per function from a
// parameter, and data that survives a deleted stack.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/samtemplate"
)

const (
	typeLogGroup  = "AWS::Logs::LogGroup"
	typeAlarm     = "AWS::CloudWatch::Alarm"
	typeTopic     = "AWS::SNS::Topic"
	typeSubscr    = "AWS::SNS::Subscription"
	typeDashboard = "AWS::CloudWatch::Dashboard"

	// metricsNamespace and the metric names are what the functions emit
	// in embedded metric format (docs/operations.md#metrics).
	metricsNamespace = "Chat"
)

var customMetrics = []string{"PushFailures", "PushThrottled"}

// fnArgs is the argument list of `!Name [...]` or `{Fn::Name: [...]}`.
func fnArgs(v any, name string) ([]any, bool) {
	if tv, ok := v.(samtemplate.Tagged); ok && tv.Tag == "!"+name {
		l, ok := tv.Value.([]any)
		return l, ok
	}
	if m := asMap(v); len(m) == 1 {
		l, ok := m["Fn::"+name].([]any)
		return l, ok
	}
	return nil, false
}

// accessLogFields are the fields each stage's access log must carry, by
// field name, with the context variable (a prefix of it) that fills it.
var accessLogFields = map[string]map[string]string{
	"http": {
		"requestId":        "$context.requestId",
		"routeKey":         "$context.routeKey",
		"status":           "$context.status",
		"integrationError": "$context.integration",
	},
	"websocket": {
		"requestId":        "$context.requestId",
		"routeKey":         "$context.routeKey",
		"status":           "$context.status",
		"integrationError": "$context.integration",
		"connectionId":     "$context.connectionId",
	},
}

// checkAccessLogs: both API stages log every request as JSON to a log
// group of their own that expires.
func checkAccessLogs(m *model) []string {
	var p []string
	stages := map[string]map[string]any{}
	for _, id := range m.ofType(typeHTTPAPI) {
		stages["http "+id] = m.tmpl.Resources[id].Properties
	}
	for _, id := range m.ofType(typeStage) {
		stages["websocket "+id] = m.tmpl.Resources[id].Properties
	}
	if len(stages) < 2 {
		p = append(p, fmt.Sprintf("want an HTTP API and a WebSocket stage, found %v", mapKeys(stages)))
	}
	groups := map[string]string{}
	for _, key := range mapKeys(stages) {
		kind, id, _ := strings.Cut(key, " ")
		settings := asMap(stages[key]["AccessLogSettings"])
		if settings == nil {
			p = append(p, fmt.Sprintf("%s has no AccessLogSettings", id))
			continue
		}
		group, attr, _ := getAtt(settings["DestinationArn"])
		if !m.isType(group, typeLogGroup) || attr != "Arn" {
			p = append(p, fmt.Sprintf("%s: AccessLogSettings.DestinationArn is %s, want !GetAtt <a %s>.Arn", id, show(settings["DestinationArn"]), typeLogGroup))
		} else {
			if other, dup := groups[group]; dup {
				p = append(p, fmt.Sprintf("%s and %s log to the same group %s", other, id, group))
			}
			groups[group] = id
			if m.tmpl.Resources[group].Properties["RetentionInDays"] == nil {
				p = append(p, fmt.Sprintf("%s: log group %s has no RetentionInDays, so it is kept forever", id, group))
			}
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(str(settings["Format"])), &fields); err != nil {
			p = append(p, fmt.Sprintf("%s: AccessLogSettings.Format is %s, not a JSON object: %v", id, show(settings["Format"]), err))
			continue
		}
		want := accessLogFields[kind]
		for _, name := range mapKeys(want) {
			if got := str(fields[name]); !strings.HasPrefix(got, want[name]) {
				p = append(p, fmt.Sprintf("%s: the access log's %q is %q, want %s…", id, name, got, want[name]))
			}
		}
	}
	return p
}

// checkTracing: every function traces with X-Ray.
func checkTracing(m *model) []string {
	var p []string
	for _, fn := range m.ofType(typeFunction) {
		if got := m.fnProp(fn, "Tracing"); got != "Active" {
			p = append(p, fmt.Sprintf("%s: Tracing is %s, want Active", fn, show(got)))
		}
	}
	return p
}

// alarm is what the checks read of an AWS::CloudWatch::Alarm: the metrics
// it watches (one, or those of its metric math).
type alarm struct {
	id      string
	props   map[string]any
	metrics []alarmMetric
}

type alarmMetric struct {
	namespace, name string
	dims            map[string]any
}

func (m *model) alarms() []alarm {
	var out []alarm
	dims := func(v any) map[string]any {
		d := map[string]any{}
		for _, e := range asList(v) {
			d[str(asMap(e)["Name"])] = asMap(e)["Value"]
		}
		return d
	}
	for _, id := range m.ofType(typeAlarm) {
		props := m.tmpl.Resources[id].Properties
		a := alarm{id: id, props: props}
		if props["MetricName"] != nil {
			a.metrics = append(a.metrics, alarmMetric{str(props["Namespace"]), str(props["MetricName"]), dims(props["Dimensions"])})
		}
		for _, q := range asList(props["Metrics"]) {
			if met := asMap(asMap(asMap(q)["MetricStat"])["Metric"]); met != nil {
				a.metrics = append(a.metrics, alarmMetric{str(met["Namespace"]), str(met["MetricName"]), dims(met["Dimensions"])})
			}
		}
		out = append(out, a)
	}
	return out
}

// findAlarm is the first alarm with a metric for which match holds.
func (m *model) findAlarm(match func(alarmMetric) bool) (alarm, bool) {
	for _, a := range m.alarms() {
		for _, am := range a.metrics {
			if match(am) {
				return a, true
			}
		}
	}
	return alarm{}, false
}

// holds reports whether want is v or a value anywhere inside it.
func holds(v, want any) bool {
	switch x := v.(type) {
	case samtemplate.Tagged:
		return holds(x.Value, want)
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return holds(e, want) })
	case map[string]any:
		for _, e := range x {
			if holds(e, want) {
				return true
			}
		}
		return false
	}
	return v == want
}

func refIs(v any, id string) bool {
	r, ok := ref(v)
	return ok && r == id
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// checkAlarms: an alarm for each way the chat fails, each notifying the
// alarm topic.
func checkAlarms(m *model) []string {
	var p []string
	topics := m.ofType(typeTopic)
	if len(topics) != 1 {
		return []string{fmt.Sprintf("want one %s for the alarms, found %v", typeTopic, topics)}
	}
	topic := topics[0]
	for _, a := range m.alarms() {
		if !slices.ContainsFunc(asList(a.props["AlarmActions"]), func(v any) bool { return refIs(v, topic) }) {
			p = append(p, fmt.Sprintf("alarm %s: AlarmActions is %s, want [!Ref %s]", a.id, show(a.props["AlarmActions"]), topic))
		}
		if len(a.metrics) == 0 {
			p = append(p, fmt.Sprintf("alarm %s watches no metric", a.id))
		}
	}
	for _, fn := range m.ofType(typeFunction) {
		for _, metric := range []string{"Errors", "Throttles", "Duration"} {
			a, ok := m.findAlarm(func(am alarmMetric) bool {
				return am.namespace == "AWS/Lambda" && am.name == metric && refIs(am.dims["FunctionName"], fn)
			})
			if !ok {
				p = append(p, fmt.Sprintf("%s has no alarm on AWS/Lambda %s with FunctionName !Ref %s", fn, metric, fn))
				continue
			}
			if metric != "Duration" {
				continue
			}
			timeout, _ := number(m.fnProp(fn, "Timeout"))
			threshold, _ := number(a.props["Threshold"])
			if a.props["ExtendedStatistic"] != "p99" {
				p = append(p, fmt.Sprintf("alarm %s: ExtendedStatistic is %s, want p99", a.id, show(a.props["ExtendedStatistic"])))
			}
			if timeout == 0 || threshold < timeout*1000/2 || threshold >= timeout*1000 {
				p = append(p, fmt.Sprintf("alarm %s: Threshold is %v ms for %s's Timeout of %v s; want at least half of the timeout and below it", a.id, threshold, fn, timeout))
			}
		}
	}
	apis := map[string]string{}
	for _, id := range m.ofType(typeHTTPAPI) {
		apis[id] = "5xx"
	}
	if ws := m.webSocketAPI(); ws != "" {
		apis[ws] = "IntegrationError"
	}
	for _, api := range mapKeys(apis) {
		if _, ok := m.findAlarm(func(am alarmMetric) bool {
			return am.namespace == "AWS/ApiGateway" && am.name == apis[api] && refIs(am.dims["ApiId"], api) && am.dims["Stage"] != nil
		}); !ok {
			p = append(p, fmt.Sprintf("API %s has no alarm on AWS/ApiGateway %s with ApiId !Ref %s and its Stage", api, apis[api], api))
		}
	}
	for _, metric := range []string{"ThrottledRequests", "SystemErrors"} {
		if _, ok := m.findAlarm(func(am alarmMetric) bool {
			return am.namespace == "AWS/DynamoDB" && am.name == metric && refIs(am.dims["TableName"], m.table())
		}); !ok {
			p = append(p, fmt.Sprintf("table %s has no alarm on AWS/DynamoDB %s", m.table(), metric))
		}
	}
	for _, metric := range customMetrics {
		// The functions emit each metric per Function and without
		// dimensions; the alarm reads the total.
		if _, ok := m.findAlarm(func(am alarmMetric) bool {
			return am.namespace == metricsNamespace && am.name == metric && len(am.dims) == 0
		}); !ok {
			p = append(p, fmt.Sprintf("no alarm on %s %s without dimensions", metricsNamespace, metric))
		}
	}
	return p
}

// checkAlarmEmail: the AlarmEmail parameter, empty by default, subscribes
// its address to the topic only when given.
func checkAlarmEmail(m *model) []string {
	var p []string
	param := asMap(m.tmpl.Parameters["AlarmEmail"])
	if param == nil {
		return []string{"Parameters has no AlarmEmail"}
	}
	if d, ok := param["Default"]; !ok || d != "" {
		p = append(p, fmt.Sprintf("parameter AlarmEmail: Default is %s, want \"\" so that deploying needs no address", show(d)))
	}
	subs := m.ofType(typeSubscr)
	if len(subs) != 1 {
		return append(p, fmt.Sprintf("want one %s for AlarmEmail, found %v", typeSubscr, subs))
	}
	r := m.tmpl.Resources[subs[0]]
	topics := m.ofType(typeTopic)
	if len(topics) != 1 || !refIs(r.Properties["TopicArn"], topics[0]) {
		p = append(p, fmt.Sprintf("subscription %s: TopicArn is %s, want !Ref of the alarm topic", subs[0], show(r.Properties["TopicArn"])))
	}
	if r.Properties["Protocol"] != "email" || !refIs(r.Properties["Endpoint"], "AlarmEmail") {
		p = append(p, fmt.Sprintf("subscription %s: want Protocol email and Endpoint !Ref AlarmEmail, found %s and %s", subs[0], show(r.Properties["Protocol"]), show(r.Properties["Endpoint"])))
	}
	if r.Condition == "" {
		return append(p, fmt.Sprintf("subscription %s has no Condition, so an empty AlarmEmail would fail the deploy", subs[0]))
	}
	// The condition is !Not [!Equals [!Ref AlarmEmail, ""]] (either order).
	cond := m.tmpl.Conditions[r.Condition]
	ok := false
	if not, isNot := fnArgs(cond, "Not"); isNot && len(not) == 1 {
		if eq, isEq := fnArgs(not[0], "Equals"); isEq && len(eq) == 2 {
			ok = (refIs(eq[0], "AlarmEmail") && eq[1] == "") || (refIs(eq[1], "AlarmEmail") && eq[0] == "")
		}
	}
	if !ok {
		p = append(p, fmt.Sprintf("subscription %s: its Condition %s is %s, want !Not [!Equals [!Ref AlarmEmail, \"\"]]", subs[0], r.Condition, show(cond)))
	}
	return p
}

var dashboardNeeds = []string{"PushFailures", "PushThrottled", "MessageCount", "Errors", "Duration", "Throttles", "ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"}

// checkDashboard: one dashboard whose body is JSON once substituted, shows
// pushes, errors, latency, throttles and capacity, and names only things
// the template has.
func checkDashboard(m *model) []string {
	ids := m.ofType(typeDashboard)
	if len(ids) != 1 {
		return []string{fmt.Sprintf("want one %s, found %v", typeDashboard, ids)}
	}
	id := ids[0]
	body, ok := sub(m.tmpl.Resources[id].Properties["DashboardBody"])
	if !ok {
		return []string{fmt.Sprintf("%s: DashboardBody is %s, want a !Sub", id, show(m.tmpl.Resources[id].Properties["DashboardBody"]))}
	}
	var p []string
	for _, name := range refersTo(m.tmpl.Resources[id].Properties["DashboardBody"]) {
		if _, isRes := m.tmpl.Resources[name]; !isRes && m.tmpl.Parameters[name] == nil {
			p = append(p, fmt.Sprintf("%s: DashboardBody names ${%s}, which the template does not have", id, name))
		}
	}
	var doc struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(subVar.ReplaceAllString(body, "x")), &doc); err != nil {
		return append(p, fmt.Sprintf("%s: DashboardBody is not JSON once substituted: %v", id, err))
	}
	shown := map[string]bool{}
	for _, w := range doc.Widgets {
		for _, metric := range w.Properties.Metrics {
			if len(metric) >= 2 {
				if s, ok := metric[1].(string); ok {
					shown[s] = true
				}
			}
		}
	}
	for _, name := range dashboardNeeds {
		if !shown[name] {
			p = append(p, fmt.Sprintf("%s shows no %s", id, name))
		}
	}
	return p
}

var concurrencyParam = regexp.MustCompile(`^[A-Za-z]+Concurrency$`)

// reservedDefault is the default a concurrency parameter reserves, or -1.
func (m *model) reservedDefault(param string) int {
	d := str(asMap(m.tmpl.Parameters[param])["Default"])
	if n, ok := number(asMap(m.tmpl.Parameters[param])["Default"]); ok && d == "" {
		d = strconv.Itoa(int(n))
	}
	n, err := strconv.Atoi(d)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// checkReservedConcurrency: each function reserves the concurrency its
// own parameter says (-1 or empty for none); $connect and sign-in are
// reserved by default, and the defaults leave the account's default 1000
// its required 100 unreserved.
func checkReservedConcurrency(m *model) []string {
	var p []string
	seen := map[string]string{}
	total := 0
	for _, fn := range m.ofType(typeFunction) {
		v := m.tmpl.Resources[fn].Properties["ReservedConcurrentExecutions"]
		args, ok := fnArgs(v, "If")
		if !ok || len(args) != 3 {
			p = append(p, fmt.Sprintf("%s: ReservedConcurrentExecutions is %s, want !If [<condition>, !Ref <parameter>, !Ref AWS::NoValue]", fn, show(v)))
			continue
		}
		cond, param := str(args[0]), ""
		if r, isRef := ref(args[1]); isRef {
			param = r
		}
		if !concurrencyParam.MatchString(param) || m.tmpl.Parameters[param] == nil || !refIs(args[2], "AWS::NoValue") {
			p = append(p, fmt.Sprintf("%s: ReservedConcurrentExecutions is %s, want !If [<condition>, !Ref <a ...Concurrency parameter>, !Ref AWS::NoValue]", fn, show(v)))
			continue
		}
		if other, dup := seen[param]; dup {
			p = append(p, fmt.Sprintf("%s and %s share the parameter %s", other, fn, param))
		}
		seen[param] = fn
		c := m.tmpl.Conditions[cond]
		if c == nil || !slices.Contains(refersTo(c), param) || !holds(c, "-1") {
			p = append(p, fmt.Sprintf("%s: condition %s is %s, want it false when %s is -1 (or empty)", fn, cond, show(c), param))
		}
		// 0 would throttle every request: only positive numbers, -1 and
		// empty may pass.
		pattern := str(asMap(m.tmpl.Parameters[param])["AllowedPattern"])
		if re, err := regexp.Compile(pattern); err != nil || pattern == "" || !re.MatchString("-1") || !re.MatchString("") || !re.MatchString("50") || re.MatchString("0") || re.MatchString("x") {
			p = append(p, fmt.Sprintf("%s: AllowedPattern is %q, want one taking positive numbers, -1 and empty, and refusing 0", param, pattern))
		}
		n := m.reservedDefault(param)
		if n > 0 {
			total += n
		}
		if (fn == "ConnectFunction" || fn == "AuthFunction") && n <= 0 {
			p = append(p, fmt.Sprintf("%s: %s reserves nothing by default, so a flood of sends could starve it", fn, param))
		}
	}
	if total > 900 {
		p = append(p, fmt.Sprintf("the concurrency parameters reserve %d by default; an account's default limit of 1000 must keep 100 unreserved", total))
	}
	return p
}

// checkDataSafety: the table survives the stack (deletion protection and
// Retain); the web bucket is retained on purpose (docs/operations.md says
// how to delete it).
func checkDataSafety(m *model) []string {
	var p []string
	for _, id := range m.ofType(typeTable) {
		r := m.tmpl.Resources[id]
		if r.Properties["DeletionProtectionEnabled"] != true {
			p = append(p, fmt.Sprintf("%s: DeletionProtectionEnabled is %s, want true", id, show(r.Properties["DeletionProtectionEnabled"])))
		}
	}
	for _, id := range slices.Concat(m.ofType(typeTable), m.ofType(typeBucket)) {
		r := m.tmpl.Resources[id]
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			p = append(p, fmt.Sprintf("%s: DeletionPolicy %q and UpdateReplacePolicy %q, want Retain for both", id, r.DeletionPolicy, r.UpdateReplacePolicy))
		}
	}
	return p
}

func TestAccessLogs(t *testing.T) { report(t, checkAccessLogs(loadModel(t))) }

func TestTracing(t *testing.T) { report(t, checkTracing(loadModel(t))) }

func TestAlarms(t *testing.T) { report(t, checkAlarms(loadModel(t))) }

func TestAlarmEmail(t *testing.T) { report(t, checkAlarmEmail(loadModel(t))) }

func TestDashboard(t *testing.T) { report(t, checkDashboard(loadModel(t))) }

func TestReservedConcurrency(t *testing.T) { report(t, checkReservedConcurrency(loadModel(t))) }

func TestDataSafety(t *testing.T) { report(t, checkDataSafety(loadModel(t))) }

// mistake is one case of TestChecksCatchMistakes.
type mistake struct {
	name   string
	mutate func(m *model)
	check  func(t *testing.T) func(m *model) []string
	want   string
}

// operationsMistakes break what the checks above hold.
func operationsMistakes() []mistake {
	res := func(m *model, id string) map[string]any { return m.tmpl.Resources[id].Properties }
	setRes := func(m *model, id string, f func(r *samtemplate.Resource)) {
		r := m.tmpl.Resources[id]
		f(&r)
		m.tmpl.Resources[id] = r
	}
	accessLogFormat := func(m *model, id string, f func(fields map[string]any)) {
		settings := asMap(res(m, id)["AccessLogSettings"])
		var fields map[string]any
		_ = json.Unmarshal([]byte(str(settings["Format"])), &fields)
		f(fields)
		b, _ := json.Marshal(fields)
		settings["Format"] = string(b)
	}
	refTo := func(s string) samtemplate.Tagged { return samtemplate.Tagged{Tag: "!Ref", Value: s} }
	return []mistake{
		{"no access log on the HTTP API", func(m *model) { delete(res(m, "HttpApi"), "AccessLogSettings") },
			fixed(checkAccessLogs), "HttpApi has no AccessLogSettings"},
		{"a WebSocket access log without connectionId", func(m *model) {
			accessLogFormat(m, "WebSocketStage", func(f map[string]any) { delete(f, "connectionId") })
		}, fixed(checkAccessLogs), `WebSocketStage: the access log's "connectionId"`},
		{"an access log without the integration error", func(m *model) {
			accessLogFormat(m, "HttpApi", func(f map[string]any) { delete(f, "integrationError") })
		}, fixed(checkAccessLogs), `HttpApi: the access log's "integrationError"`},
		{"a CLF access log", func(m *model) {
			asMap(res(m, "WebSocketStage")["AccessLogSettings"])["Format"] = "$context.requestId $context.routeKey $context.status"
		}, fixed(checkAccessLogs), "not a JSON object"},
		{"an access log kept forever", func(m *model) { delete(res(m, "WebSocketAccessLogs"), "RetentionInDays") },
			fixed(checkAccessLogs), "has no RetentionInDays"},
		{"no tracing", func(m *model) { delete(asMap(m.tmpl.Globals["Function"]), "Tracing") },
			fixed(checkTracing), "Tracing is nothing, want Active"},
		{"tracing passed through on one function", func(m *model) { res(m, "SendMessageFunction")["Tracing"] = "PassThrough" },
			fixed(checkTracing), `SendMessageFunction: Tracing is "PassThrough"`},
		{"no errors alarm", func(m *model) { delete(m.tmpl.Resources, "JoinRoomFunctionErrorsAlarm") },
			fixed(checkAlarms), "JoinRoomFunction has no alarm on AWS/Lambda Errors"},
		{"no throttles alarm", func(m *model) { delete(m.tmpl.Resources, "ConnectFunctionThrottlesAlarm") },
			fixed(checkAlarms), "ConnectFunction has no alarm on AWS/Lambda Throttles"},
		{"a duration alarm past the timeout", func(m *model) { res(m, "RoomsFunctionDurationAlarm")["Threshold"] = int64(15000) },
			fixed(checkAlarms), "alarm RoomsFunctionDurationAlarm: Threshold is 15000 ms"},
		{"a duration alarm on the average", func(m *model) {
			delete(res(m, "AuthFunctionDurationAlarm"), "ExtendedStatistic")
			res(m, "AuthFunctionDurationAlarm")["Statistic"] = "Average"
		}, fixed(checkAlarms), "ExtendedStatistic is nothing, want p99"},
		{"an alarm nobody hears", func(m *model) { delete(res(m, "TableSystemErrorsAlarm"), "AlarmActions") },
			fixed(checkAlarms), "alarm TableSystemErrorsAlarm: AlarmActions is nothing"},
		{"no HTTP 5xx alarm", func(m *model) { delete(m.tmpl.Resources, "HttpApi5xxAlarm") },
			fixed(checkAlarms), "API HttpApi has no alarm on AWS/ApiGateway 5xx"},
		{"no WebSocket integration error alarm", func(m *model) { delete(m.tmpl.Resources, "WebSocketIntegrationErrorAlarm") },
			fixed(checkAlarms), "API WebSocketApi has no alarm on AWS/ApiGateway IntegrationError"},
		{"no DynamoDB throttling alarm", func(m *model) { delete(m.tmpl.Resources, "TableThrottledRequestsAlarm") },
			fixed(checkAlarms), "has no alarm on AWS/DynamoDB ThrottledRequests"},
		{"no DynamoDB system errors alarm", func(m *model) { delete(m.tmpl.Resources, "TableSystemErrorsAlarm") },
			fixed(checkAlarms), "has no alarm on AWS/DynamoDB SystemErrors"},
		{"no push failures alarm", func(m *model) { delete(m.tmpl.Resources, "PushFailuresAlarm") },
			fixed(checkAlarms), "no alarm on Chat PushFailures"},
		{"a push throttled alarm on one function only", func(m *model) {
			res(m, "PushThrottledAlarm")["Dimensions"] = []any{map[string]any{"Name": "Function", "Value": "send_message"}}
		}, fixed(checkAlarms), "no alarm on Chat PushThrottled without dimensions"},
		{"a push alarm in another namespace", func(m *model) { res(m, "PushFailuresAlarm")["Namespace"] = "chat" },
			fixed(checkAlarms), "no alarm on Chat PushFailures"},
		{"no alarm topic", func(m *model) { delete(m.tmpl.Resources, "AlarmTopic") },
			fixed(checkAlarms), "want one AWS::SNS::Topic"},
		{"an email subscription without a condition", func(m *model) {
			setRes(m, "AlarmEmailSubscription", func(r *samtemplate.Resource) { r.Condition = "" })
		}, fixed(checkAlarmEmail), "has no Condition"},
		{"an email condition that always holds", func(m *model) {
			m.tmpl.Conditions["HasAlarmEmail"] = samtemplate.Tagged{Tag: "!Equals", Value: []any{"a", "a"}}
		}, fixed(checkAlarmEmail), "want !Not [!Equals [!Ref AlarmEmail"},
		{"an AlarmEmail that must be given", func(m *model) { delete(asMap(m.tmpl.Parameters["AlarmEmail"]), "Default") },
			fixed(checkAlarmEmail), "parameter AlarmEmail: Default is nothing"},
		{"an email to a fixed address", func(m *model) { res(m, "AlarmEmailSubscription")["Endpoint"] = "ops@example.com" },
			fixed(checkAlarmEmail), "Endpoint !Ref AlarmEmail"},
		{"no dashboard", func(m *model) { delete(m.tmpl.Resources, "Dashboard") },
			fixed(checkDashboard), "want one AWS::CloudWatch::Dashboard"},
		{"a dashboard without pushes", func(m *model) {
			body, _ := sub(res(m, "Dashboard")["DashboardBody"])
			res(m, "Dashboard")["DashboardBody"] = samtemplate.Tagged{Tag: "!Sub", Value: strings.ReplaceAll(body, "PushThrottled", "Pushed")}
		}, fixed(checkDashboard), "shows no PushThrottled"},
		{"a dashboard naming a missing function", func(m *model) {
			body, _ := sub(res(m, "Dashboard")["DashboardBody"])
			res(m, "Dashboard")["DashboardBody"] = samtemplate.Tagged{Tag: "!Sub", Value: strings.Replace(body, "${AuthFunction}", "${AuthFn}", 1)}
		}, fixed(checkDashboard), "names ${AuthFn}"},
		{"a dashboard that is not JSON", func(m *model) {
			body, _ := sub(res(m, "Dashboard")["DashboardBody"])
			res(m, "Dashboard")["DashboardBody"] = samtemplate.Tagged{Tag: "!Sub", Value: strings.TrimSuffix(strings.TrimSpace(body), "}")}
		}, fixed(checkDashboard), "is not JSON"},
		{"a function without reserved concurrency", func(m *model) { delete(res(m, "DefaultFunction"), "ReservedConcurrentExecutions") },
			fixed(checkReservedConcurrency), "DefaultFunction: ReservedConcurrentExecutions is nothing"},
		{"a fixed reserved concurrency", func(m *model) { res(m, "SendMessageFunction")["ReservedConcurrentExecutions"] = int64(200) },
			fixed(checkReservedConcurrency), "SendMessageFunction: ReservedConcurrentExecutions is 200"},
		{"two functions on one parameter", func(m *model) {
			res(m, "JoinRoomFunction")["ReservedConcurrentExecutions"] = res(m, "LeaveRoomFunction")["ReservedConcurrentExecutions"]
		}, fixed(checkReservedConcurrency), "share the parameter LeaveRoomConcurrency"},
		{"-1 still reserving", func(m *model) { m.tmpl.Conditions["ReserveRooms"] = true },
			fixed(checkReservedConcurrency), "want it false when RoomsConcurrency is -1"},
		{"$connect unreserved by default", func(m *model) { asMap(m.tmpl.Parameters["ConnectConcurrency"])["Default"] = "-1" },
			fixed(checkReservedConcurrency), "ConnectFunction: ConnectConcurrency reserves nothing by default"},
		{"reserving the whole account", func(m *model) { asMap(m.tmpl.Parameters["SendMessageConcurrency"])["Default"] = "800" },
			fixed(checkReservedConcurrency), "must keep 100 unreserved"},
		{"a reservation of 0 allowed", func(m *model) { asMap(m.tmpl.Parameters["AuthConcurrency"])["AllowedPattern"] = "^(-1|[0-9]*)$" },
			fixed(checkReservedConcurrency), "AuthConcurrency: AllowedPattern"},
		{"a table that can be deleted", func(m *model) { res(m, "ChatTable")["DeletionProtectionEnabled"] = false },
			fixed(checkDataSafety), "ChatTable: DeletionProtectionEnabled is false"},
		{"a table deleted with the stack", func(m *model) {
			setRes(m, "ChatTable", func(r *samtemplate.Resource) { r.DeletionPolicy = "" })
		}, fixed(checkDataSafety), `ChatTable: DeletionPolicy ""`},
		{"a web bucket deleted with the stack", func(m *model) {
			setRes(m, "WebBucket", func(r *samtemplate.Resource) { r.DeletionPolicy = "Delete" })
		}, fixed(checkDataSafety), `WebBucket: DeletionPolicy "Delete"`},
		{"a web bucket lost on replacement", func(m *model) {
			setRes(m, "WebBucket", func(r *samtemplate.Resource) { r.UpdateReplacePolicy = "" })
		}, fixed(checkDataSafety), `UpdateReplacePolicy ""`},
		{"an alarm on an unknown table", func(m *model) {
			for _, q := range asList(res(m, "TableThrottledRequestsAlarm")["Metrics"]) {
				for _, d := range asList(asMap(asMap(asMap(q)["MetricStat"])["Metric"])["Dimensions"]) {
					if asMap(d)["Name"] == "TableName" {
						asMap(d)["Value"] = refTo("OtherTable")
					}
				}
			}
		}, fixed(checkAlarms), "has no alarm on AWS/DynamoDB ThrottledRequests"},
	}
}
