"""SR3 budgets fail closed: the facts and rule shared by config, TenantGateway, CrossGuard and verify (`predicates`)."""
