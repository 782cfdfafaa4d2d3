package console

// TemplateSources exposes every template's text to the tests.
var TemplateSources = templateSources

// Catalogue exposes the message catalogue to the tests.
var Catalogue = catalogue

// HandoffKey exposes the name a taken hand-off has in the cluster's
// memory of requests taken.
var HandoffKey = handoffKey
