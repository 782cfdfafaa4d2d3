package launch

import "github.com/oob-relay/relay/relay/session"

// SessionTokens signs console tokens with the node's key and checks those
// of every node the cluster trusts.
func (s *Server) SessionTokens() *session.Tokens { return session.New(s.signer, s.keys, nil) }
