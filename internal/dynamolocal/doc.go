// Package dynamolocal fetches and runs AWS's DynamoDB Local, a local
// emulator of DynamoDB written in Java, for tests and for local runs.
//
// The emulator is not vendored. [Fetch] obtains it from the npm package
// amplify-dynamodb-simulator (which bundles DynamoDB Local 1.25.1) with
// `npm pack`, checks the tarball's integrity, and unpacks only its emulator
// folder into a cache directory outside the repository:
//
//	$DYNAMODB_LOCAL_DIR                           if set
//	$XDG_CACHE_HOME/chat/dynamodb-local/2.9.30    otherwise (Linux)
//	~/.cache/chat/dynamodb-local/2.9.30           when XDG_CACHE_HOME is unset
//
// where 2.9.30 is [NPMVersion]. Delete the directory to fetch again.
//
// [Start] runs `java -jar DynamoDBLocal.jar -inMemory -sharedDb` on a free
// port and waits until it answers on 127.0.0.1; [Server.Stop] kills it. On
// Linux the kernel also kills it when the starting process dies.
// [NewClient] and [Server.Client] build a DynamoDB client with dummy
// credentials aimed at such a server.
//
// Requirements: Java 17 (or newer) on PATH to start the server, and npm on
// PATH for the first fetch.
//
// Tests should use the helper package
// github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest, which shares
// one server per test binary.
package dynamolocal
