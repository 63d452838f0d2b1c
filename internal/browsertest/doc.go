// Package browsertest drives Debian's chromium through chromedp for the
// console's tests: a fresh headless profile, every console error and
// uncaught exception collected, screenshots to a directory.
package browsertest
