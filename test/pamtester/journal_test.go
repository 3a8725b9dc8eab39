package pamtester

import "pam_vault/internal/pamtest"

// journal holds every token the suite typed and every line the module
// logged, from every test of the package; TestMain checks it at the end.
var journal pamtest.Journal
