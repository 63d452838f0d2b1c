// Package scripts holds the tests of the shell scripts beside it
// (run.sh, infra.sh); it has no code of its own.
package scripts
