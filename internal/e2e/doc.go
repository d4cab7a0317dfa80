// Package e2e holds the end-to-end tests of the web client: Debian's
// headless Chromium, driven from Go with chromedp, against the local
// emulator on the embedded bbolt store.
//
// The tests need /usr/bin/chromium (apt-get install -y chromium). Without it
// they are skipped, unless the environment variable CI is true, in which
// case they fail. Screenshots go to the directory in E2E_SCREENSHOTS (a
// temporary one by default); with E2E_UPDATE_SCREENSHOTS=1 they are also
// written to testdata/screenshots/.
package e2e
