// Package lambdarie runs the chat's functions as Lambda runs them: each
// function's linux bootstrap, built for this machine's architecture, under
// AWS's own Lambda Runtime Interface Emulator (RIE), behind the local API
// Gateway emulator, on DynamoDB Local. `make run-lambda` is this.
//
// One RIE runs per function, each in its managed-instances mode (the
// environment variable AWS_LAMBDA_MAX_CONCURRENCY set), the mode that takes
// --runtime-api-address, so that several can run side by side on loopback
// ports. That mode runs only a bootstrap found at one of its fixed paths
// (/var/runtime, /var/task, /opt), whatever its command line says, so each
// RIE gets a private mount namespace in which the function's directory is
// bind-mounted onto /var/task, and a PID namespace of its own, so that
// stopping the RIE also ends the function process it started. That needs
// Linux and root (or CAP_SYS_ADMIN); [Supported] says whether this process
// has them.
//
// A [Router] speaks the Lambda Invoke API (POST
// /2015-03-31/functions/{name}/invocations) that the emulator's
// -lambda-endpoint calls, and hands each invocation to the function's RIE.
// The functions call it too (AWS_ENDPOINT_URL_LAMBDA, the SDK's own
// variable): they hand big rooms' shards to the fan-out function as
// asynchronous invocations (Event), which the router answers 202 at once
// and runs in the background, as Lambda does.
// [Start] puts it all together: the RIE (built with go install into the
// user cache on first use, see [InstallRIE]), the bootstraps ([Build]), the
// router, the emulator and one RIE per function.
//
// With [Config.Instances] above 1 or [Config.CPULimit], the stack is a
// simulated Lambda fleet for benchmarks: each function runs as that many
// instances, each its own RIE and bootstrap serving one invocation at a
// time (AWS_LAMBDA_MAX_CONCURRENCY=1), as an execution environment does;
// the router hands each invocation to a free instance and queues it, as
// long as its caller waits, when none is. With CPULimit each instance's
// function process, not its RIE, is held to the share of a core Lambda
// gives its MemorySize ([cpushare.ForMemory]) in a cgroup of its own: the
// instance's /var/task holds a bootstrap script that joins the cgroup,
// then execs the function. The fan-out function, which only other
// functions invoke, gets [Config.FanoutInstances] instances, since Lambda
// scales asynchronous invocations out. [Stack.Invocations] gives what the
// invocations would be billed, in GB-seconds.
//
// An RIE whose function crashes or fails its init exits with it, where
// Lambda would start a new execution environment. The stack does the same:
// it logs the RIE's last lines and starts another in its place, on the
// same ports, a few times a minute at most ([Stack.Replaced]); the router
// holds an invocation meant for it until it is back.
package lambdarie
