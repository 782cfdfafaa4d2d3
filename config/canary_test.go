package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateCanary(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"defaults", func(c *Config) { c.Channels.SMS.Providers[0].Canary = &Canary{To: "+821099990000"} }, ""},
		{"everything wrong", func(c *Config) {
			c.HTTP.PublicURL = ""
			c.Channels.SMS.Providers[0].Canary = &Canary{To: "010-9999-0000", Every: 30 * time.Second, LateAfter: time.Minute}
		}, strings.Join([]string{
			`channels.sms.providers[0].canary.to: "010-9999-0000" must be an E.164 number such as +821012345678`,
			"channels.sms.providers[0].canary.every: 30s is shorter than 1m0s",
			"channels.sms.providers[0].canary.late_after: 1m0s must be positive and shorter than every (30s)",
			"channels.sms.providers[0].canary: needs http.public_url or http.callback_url: its receipts come to the node's webhooks",
		}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase(t)
			c.HTTP.PublicURL = "https://relay.example.com"
			tt.mutate(c)
			c.SetDefaults()
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate() =\n%v\nwant:\n%s", err, tt.want)
			}
			if cn := c.Channels.SMS.Providers[0].Canary; tt.want == "" && (cn.Every != DefaultCanaryEvery || cn.LateAfter != DefaultCanaryLateAfter) {
				t.Errorf("defaults: %+v", cn)
			}
		})
	}
}
