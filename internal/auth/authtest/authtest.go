// Package authtest holds what tests share about accounts: argon2id
// parameters that cost next to nothing, so a test suite can sign up
// hundreds of people. Never use them outside tests.
package authtest

import "github.com/chatroom/chat/internal/auth"

// Params hash in microseconds instead of auth.DefaultParams' tens of
// milliseconds.
var Params = auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
