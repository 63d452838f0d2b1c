// Package scripts holds the tests of the shell scripts beside it
// (run.sh, infra.sh, chaos.sh); it has no code of its own.
package scripts
