package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/streamsync/streamsync/partnersim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "partnersim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("partnersim", flag.ContinueOnError)
	addr := fs.String("addr", partnersim.DefaultAddr, "listen address")
	clientID := fs.String("client-id", partnersim.DefaultClientID, "accepted client_id; empty turns auth off")
	clientSecret := fs.String("client-secret", partnersim.DefaultClientSecret, "accepted client_secret")
	tokenTTL := fs.Duration("token-ttl", partnersim.DefaultTokenTTL, "token lifetime")
	latency := fs.Duration("latency", 0, "latency added to every record request")
	jitter := fs.Duration("jitter", 0, "up to this much more latency, at random")
	errorRate := fs.Float64("error-rate", 0, "share (0-1) of record requests answered 503")
	outage := fs.Bool("outage", false, "start in an outage: 503 for everything")
	rate429 := fs.Float64("rate-429", 0, "share (0-1) of record requests answered 429")
	retryAfter := fs.Duration("retry-after", time.Second, "Retry-After of a 429")
	rejectPrefix := fs.String("reject-prefix", "", "answer 422 for keys with this prefix")
	logMax := fs.Int("log-max", partnersim.DefaultLogMax, "request log entries kept")
	seed := fs.Uint64("seed", 1, "seed of the injected faults")
	verbose := fs.Bool("v", false, "log every request")
	seedEntity := fs.String("seed-entity", "", "at start, seed --seed-count generated records of this entity (see /_sim/seed)")
	seedCount := fs.Int("seed-count", 0, "records to seed at start")
	seedAccounts := fs.Int("seed-accounts", 10, "accounts the seeded records spread over")
	driftEvery := fs.Duration("drift-every", 0, "drift the --seed-entity records this often (0: never), for reconciliation demos")
	driftSpec := fs.String("drift", "drop=2,alter=1,age=1", "what each drift does: drop, alter, age, bump, add counts")
	api := fs.String("api", partnersim.APIBoth, "APIs served: both, v1 (docs/partner-api.md) or crm (docs/partnersim-crm.md, under /crm/)")
	crmAuth := fs.String("crm-auth", partnersim.CRMAuthNone, "auth of the crm API: none, api_key or hmac")
	crmAPIKey := fs.String("crm-api-key", partnersim.DefaultCRMAPIKey, "the crm API's X-Api-Key (with --crm-auth api_key)")
	crmAppKey := fs.String("crm-app-key", partnersim.DefaultCRMAppKey, "the crm API's X-App-Key (with --crm-auth hmac)")
	crmSecret := fs.String("crm-secret", partnersim.DefaultCRMSecret, "the crm API's HMAC secret (with --crm-auth hmac)")
	crmRateLimit := fs.Int("crm-rate-limit", partnersim.DefaultCRMRateLimit, "crm calls allowed per --crm-rate-window")
	crmRateWindow := fs.Duration("crm-rate-window", partnersim.DefaultCRMRateWindow, "the crm API's rate-limit window")
	crmShuffle := fs.Bool("crm-shuffle", false, "shuffle the items within each crm list page (an unstable order)")
	echoURL := fs.String("echo-url", "", "send every applied write back to this URL as a new change (docs/partnersim.md); empty: no echo")
	echoFormat := fs.String("echo-format", partnersim.EchoWebhook, "echo as webhook (Standard Webhooks) or events (streamsync's ingest POST /v1/events)")
	echoSecret := fs.String("echo-secret", "", "whsec_… secret that signs webhook echoes (or $PARTNERSIM_ECHO_SECRET)")
	echoToken := fs.String("echo-token", "", "bearer token of events echoes (or $PARTNERSIM_ECHO_TOKEN)")
	echoDelay := fs.Duration("echo-delay", 0, "hold each echo this long after its write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *echoSecret == "" {
		*echoSecret = os.Getenv("PARTNERSIM_ECHO_SECRET")
	}
	if *echoToken == "" {
		*echoToken = os.Getenv("PARTNERSIM_ECHO_TOKEN")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	sim, err := partnersim.New(partnersim.Options{
		ClientID: *clientID, ClientSecret: *clientSecret, TokenTTL: *tokenTTL, LogMax: *logMax, Seed: *seed, Logger: logger,
		Faults: partnersim.Faults{
			Latency: partnersim.Duration(*latency), Jitter: partnersim.Duration(*jitter), ErrorRate: *errorRate,
			Outage: *outage, Rate429: *rate429, RetryAfter: partnersim.Duration(*retryAfter), RejectPrefix: *rejectPrefix,
			CRM: partnersim.CRMFaults{ShufflePages: *crmShuffle},
		},
		API: *api,
		CRM: partnersim.CRMOptions{
			Auth: *crmAuth, APIKey: *crmAPIKey, AppKey: *crmAppKey, Secret: *crmSecret,
			RateLimit: *crmRateLimit, RateWindow: *crmRateWindow,
		},
		Echo: partnersim.EchoOptions{URL: *echoURL, Format: *echoFormat, Secret: *echoSecret, Token: *echoToken, Delay: *echoDelay},
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	if *seedCount > 0 && *api == partnersim.APICRM {
		if *driftEvery > 0 {
			return errors.New("--drift-every drifts the built-in API's records; it does not go with --api crm")
		}
		if _, err := sim.CRMSeed(partnersim.SeedSpec{Entity: *seedEntity, Count: *seedCount, Accounts: *seedAccounts}); err != nil {
			return fmt.Errorf("--seed-entity/--seed-count: %w", err)
		}
	} else if *seedCount > 0 {
		if _, err := sim.Seed(partnersim.SeedSpec{Entity: *seedEntity, Count: *seedCount, Accounts: *seedAccounts, Version: 2}); err != nil {
			return fmt.Errorf("--seed-entity/--seed-count: %w", err)
		}
	}
	var drift partnersim.DriftSpec
	if *driftEvery > 0 {
		if drift, err = parseDrift(*seedEntity, *driftSpec); err != nil {
			return fmt.Errorf("--drift: %w", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if *driftEvery > 0 {
		go func() {
			t := time.NewTicker(*driftEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if d, err := sim.Drift(drift); err == nil {
					logger.Info("drift", "entity", drift.Entity, "dropped", len(d.Dropped), "altered", len(d.Altered), "aged", len(d.Aged),
						"bumped", len(d.Bumped), "added", len(d.Added))
				}
			}
		}()
	}
	logger.Info("partnersim listening", "addr", ln.Addr().String(), "auth", *clientID != "", "token_ttl", tokenTTL.String(),
		"api", *api, "crm_auth", *crmAuth, "echo_url", *echoURL, "echo_format", *echoFormat)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseDrift reads "drop=2,alter=1,age=1" into a DriftSpec of entity.
func parseDrift(entity, spec string) (partnersim.DriftSpec, error) {
	d := partnersim.DriftSpec{Entity: entity}
	for _, part := range strings.Split(spec, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return d, fmt.Errorf("%q is not name=count", part)
		}
		switch name {
		case "drop":
			d.Drop = n
		case "alter":
			d.Alter = n
		case "age":
			d.Age = n
		case "bump":
			d.Bump = n
		case "add":
			d.Add = n
		default:
			return d, fmt.Errorf("%q: want drop, alter, age, bump or add", name)
		}
	}
	return d, nil
}
