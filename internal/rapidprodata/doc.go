// Package rapidprodata finds and reads the shared RapidPro test data: legacy
// flow exports and the reference conversations RapidPro's engine had on them
// (../shared/testdata/rapidpro beside the repository). Tests use it and skip
// when the folder is absent.
package rapidprodata
