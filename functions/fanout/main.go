// Command fanout is the Lambda function that pushes one shard of a big
// room's frame; the functions that store changes invoke it asynchronously.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("fanout") }
