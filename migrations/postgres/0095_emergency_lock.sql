-- Why a locked account is locked: `operator` (an operator blocked it; only an operator lifts
-- it) or `emergency` (the citizen locked it; a front desk, an operator, or the citizen with a
-- recovery code lifts it). NULL while the account is active.
ALTER TABLE idp_accounts ADD COLUMN locked_reason TEXT;
