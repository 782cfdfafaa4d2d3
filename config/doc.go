// Package config loads and checks a relay node's configuration file.
//
// The configuration is one YAML file, the operator's whole view of a node:
// its name and store, the HTTP listener, the API tokens, the roster file,
// how deliveries are retried, the providers of each channel, the limits on
// what clients may ask (limits) and logging.
// testdata/full.yaml shows and explains every key.
//
// Load reads a file in four steps, each of which a caller may also run on
// its own:
//
//   - Decode parses the YAML strictly: an unknown key, a repeated key or a
//     value of the wrong type is an error that names its line and key path,
//     such as `line 12: unknown key "listn" in http`.
//   - SetDefaults fills every key left out with its default, including the
//     defaults of each provider's channel configuration.
//   - Validate reports every problem at once, joined with errors.Join, each
//     starting with its key path, such as
//     `channels.sms.providers[0].twilio.from: "+8210" must be an E.164 number such as +821012345678`.
//   - ResolveSecrets reads secrets given through *_env and *_file keys and
//     makes relative paths absolute against the config file's folder.
//     Load then validates again, so that the secrets read are checked too.
//
// Secrets (API tokens, the Twilio auth token, SMTP and NATS passwords and
// tokens) are held as secret.String, which prints as "<secret>"; no error
// this package returns contains a secret's value.
package config
