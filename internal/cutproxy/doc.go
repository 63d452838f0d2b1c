// Package cutproxy is a TCP proxy for tests that cuts connections between
// a client and a real server: all of them at once, or one at the moment a
// reply is about to reach the client, after the server has done the work
// the client asked for; or silent for a while (a black hole: bytes
// swallowed both ways, new connections never answered); or slow (latency
// and a bandwidth limit).
package cutproxy
