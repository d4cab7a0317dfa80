package wsapi

import (
	"strings"
	"testing"
)

// BenchmarkParseFrame reads a send_message frame the way every socket
// route does: parse, then the fields the action takes. Every frame pays
// this, so a stricter reader must stay cheap.
func BenchmarkParseFrame(b *testing.B) {
	text := strings.Repeat("hello, everyone ", 7)[:100]
	frames := map[string]string{
		"ascii":   `{"action":"send_message","room_id":"01JD8Q00000000000000000001","client_msg_id":"bench-1","text":"` + text + `"}`,
		"escaped": `{"action":"send_message","room_id":"01JD8Q00000000000000000001","client_msg_id":"bench-1","text":"Gr\u00fc\u00dfe \ud83d\ude00 \"quoted\"\n` + text + `"}`,
		"unicode": `{"action":"send_message","room_id":"01JD8Q00000000000000000001","client_msg_id":"bench-1","text":"` + strings.Repeat("Grüße aus Köln 👋 ", 6) + `"}`,
	}
	for _, name := range []string{"ascii", "escaped", "unicode"} {
		body := frames[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r, err := parse(body)
				if err != nil {
					b.Fatal(err)
				}
				if r.action != "send_message" {
					b.Fatalf("action %q", r.action)
				}
				for _, f := range []string{"room_id", "client_msg_id", "text"} {
					if _, ok := r.str(f); !ok {
						b.Fatalf("%s missing", f)
					}
				}
			}
		})
	}
}
