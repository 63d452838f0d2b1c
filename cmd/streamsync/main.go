package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/config"
)

const usage = `usage: streamsync <command> [flags]

commands:
  run       the pipeline: consume events and deliver them to the partner
  status    stream length, pending, lag, delayed, retrying, dead [--partner NAME]
  dead      list, replay or drop dead letters: dead list|replay|drop [--id ID]... [--reason R] [--all]
            [--partner NAME]
  chains    failed or stuck chains from the attempt log
  sql       the analysts' queries of sql/: sql lists them, sql NAME [--since 6h] runs one
  produce   append a demo conference-registration story to the events stream
  reconcile compare our records (source or ledger) with the partner's, and repair:
            reconcile [--entity E]... [--account A]... [--against source|ledger] [--repair]
            [--repair-extra] [--recent DURATION]; exit 0 equal, 1 differences, 2 failed
  backfill  full sync: append every record of the source as an upsert, paced and resumable
            [--entity E]... [--account A]... [--rate N] [--resume RUN_ID] [--replay-dead]
  shard     shard ACCOUNT: the events stream a producer appends the account's events to
  ledger    show or mend one record's ledger entry (e.g. one pushed too high):
            ledger get|set|drop ENTITY KEY [--account A] [--version N]
  idmap     show or mend one record's entry in the id map of a partner that assigns ids:
            idmap get|set|drop ENTITY KEY [--account A] [--id ID] [--json]
  partner   try sink.profile (docs/partners.md): partner preview --event FILE prints the requests
            events would make, nothing sent; partner check [--entity E] reads the partner once;
            partner retire NAME [--drop-state] [--force] removes a partner taken out of the settings

With several partners, status, dead, reconcile, backfill, ledger and idmap take
--partner NAME (docs/operations.md, "Several partners").

Every command takes --config FILE, --format table|json, and a flag per setting
(--sink.base_url=…); see config/streamsync.example.yaml.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Environ())
	stop()
	if err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "streamsync:", err)
		}
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode()) // reconcile: 1 when differences were found
		}
		os.Exit(2)
	}
}

type command func(ctx context.Context, e *env) error

var commands = map[string]struct {
	run      command
	sections []string // config sections the command needs valid; nil means all
	flags    func(fs *pflag.FlagSet)
}{
	"run":       {run: runPipeline},
	"status":    {run: runStatus, sections: operatorSections, flags: statusFlags},
	"dead":      {run: runDead, sections: operatorSections, flags: deadFlags},
	"produce":   {run: runProduce, sections: operatorSections, flags: produceFlags},
	"chains":    {run: runChains, sections: []string{config.SectionClickHouse, config.SectionLog}, flags: chainsFlags},
	"reconcile": {run: runReconcile, sections: reconcileSections, flags: reconcileFlags},
	"backfill": {run: runBackfill, sections: []string{config.SectionRedis, config.SectionStream, config.SectionEvent, config.SectionSource, config.SectionLog},
		flags: backfillFlags},
	"shard":   {run: runShard, sections: []string{config.SectionRedis, config.SectionStream}},
	"ledger":  {run: runLedger, sections: operatorSections, flags: ledgerFlags},
	"idmap":   {run: runIDMap, sections: operatorSections, flags: idmapFlags},
	"partner": {run: runPartner, sections: []string{config.SectionSink, config.SectionEvent, config.SectionLog}, flags: partnerFlags},
	"sql":     {run: runSQL, sections: []string{config.SectionClickHouse, config.SectionLog}, flags: sqlFlags},
}

var operatorSections = []string{config.SectionRedis, config.SectionStream, config.SectionLog}

var reconcileSections = []string{config.SectionRedis, config.SectionStream, config.SectionSink, config.SectionClickHouse,
	config.SectionSource, config.SectionLog}

// env is what a command gets: its settings, flags, output and logger.
type env struct {
	cfg    config.Config
	fs     *pflag.FlagSet
	out    io.Writer
	format string
	log    *slog.Logger
}

func dispatch(ctx context.Context, args []string, out io.Writer, environ []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		return nil
	}
	name := args[0]
	c, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q\n\n%s", name, usage)
	}
	fs := newFlagSet(name)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	format, _ := fs.GetString("format")
	if format != "table" && format != "json" {
		return fmt.Errorf("--format: must be table or json, is %q", format)
	}
	cfg, err := config.Load(fs, environ)
	if err != nil {
		return err
	}
	if err := cfg.Validate(c.sections...); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	err = c.run(ctx, &env{cfg: cfg, fs: fs, out: out, format: format, log: newLogger(cfg.Log)})
	err = withRedisHint(err, cfg.Redis) // MOVED from a Cluster node used as one Redis: name the settings
	return withClickHouseHint(err, cfg.ClickHouse)
}

// newFlagSet is a command's flags: --config, one per setting, --format and
// the command's own.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("streamsync "+name, pflag.ContinueOnError)
	config.AddFlags(fs)
	fs.String("format", "table", "output: table or json")
	if f := commands[name].flags; f != nil {
		f(fs)
	}
	return fs
}

func newLogger(c config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
