package partner

import "github.com/prometheus/client_golang/prometheus"

// metrics of the sink, registered on the Registerer given in Config.
type metrics struct {
	breaker prometheus.Gauge
	authOK  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamsync_partner_breaker_state",
			Help: "The partner circuit breaker: 0 closed, 1 half-open (a probe is out), 2 open (delivery paused)."}),
		authOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamsync_partner_auth_ok",
			Help: "1 when the last token request succeeded or no auth is configured, 0 while the token endpoint refuses the credentials."}),
	}
	m.authOK.Set(1)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.breaker, m.authOK} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
