// Public surface of the L7 authorization engine (pure: policies and request facts in, a decision out) and of JWT
// request authentication.
export { ACCESS_DENIED_BODY, customMatches, evaluateL7, policyMatch, stringMatches, type L7Decision, type L7Policy, type RequestAuth, type RequestFacts } from './l7-policy.js';
export { authenticateRequest, KeyFetchError, type JwtRuleSpec, type KeySource, type RequestAuthnPolicy } from './jwt-authn.js';
