package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// markupSinks are the ways a string becomes markup in a page. The client
// builds every element with createElement and textContent (web/js/dom.js,
// web/js/richtext.js), so none of them may appear in its scripts.
var markupSinks = regexp.MustCompile(`\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment|new\s+DOMParser|\.srcdoc\b`)

// TestNoMarkupFromStrings keeps it so: a user's text can never be parsed
// as HTML, whichever view draws it.
func TestNoMarkupFromStrings(t *testing.T) {
	root := filepath.Join("..", "..", "web")
	var scripts int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		scripts++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := markupSinks.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: build elements with h() and textContent instead", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scripts < 10 {
		t.Fatalf("found %d scripts under %s; the check looked in the wrong place", scripts, root)
	}
}
