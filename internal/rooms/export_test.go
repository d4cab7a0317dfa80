package rooms

// MaxAttempts is how often a command is decided before it gives up.
const MaxAttempts = maxAttempts
