DROP TRIGGER IF EXISTS stockbalance_real_location ON inventory_stockbalance;
DROP FUNCTION IF EXISTS alokon_check_balance_location();
DROP TRIGGER IF EXISTS ledgerentry_movement_balanced ON inventory_ledgerentry;
DROP FUNCTION IF EXISTS alokon_check_movement_balanced();
ALTER TABLE inventory_stockbalance DROP CONSTRAINT IF EXISTS balance_lot_product_fk;
ALTER TABLE inventory_ledgerentry DROP CONSTRAINT IF EXISTS entry_lot_product_fk;
DROP TRIGGER IF EXISTS movement_append_only ON inventory_movement;
DROP TRIGGER IF EXISTS ledgerentry_append_only ON inventory_ledgerentry;
DROP FUNCTION IF EXISTS alokon_refuse_change();
