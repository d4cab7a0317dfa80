// Command auth is the Lambda function behind the HTTP API's auth routes.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("auth") }
