-- The database guards the ledger's invariants, whatever code (or person) writes to it.

-- 1. Append-only: movements and ledger entries are never changed or removed.
--    A mistake is corrected by a reversing movement, posted through the service.
CREATE FUNCTION alokon_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alokon: % on % is not allowed: the stock ledger is append-only; post a reversing movement instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON inventory_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION alokon_refuse_change();

CREATE TRIGGER movement_append_only
    BEFORE UPDATE OR DELETE ON inventory_movement
    FOR EACH ROW EXECUTE FUNCTION alokon_refuse_change();

-- 2. An entry's (and a balance's) product is its lot's product.
ALTER TABLE inventory_ledgerentry
    ADD CONSTRAINT entry_lot_product_fk FOREIGN KEY (lot_id, product_id)
    REFERENCES inventory_lot (id, product_id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE inventory_stockbalance
    ADD CONSTRAINT balance_lot_product_fk FOREIGN KEY (lot_id, product_id)
    REFERENCES inventory_lot (id, product_id) DEFERRABLE INITIALLY DEFERRED;

-- 3. Double entry: a movement's entries net to zero per lot. Checked at commit
--    (the entries of one movement arrive in one INSERT, but a constraint trigger
--    must be FOR EACH ROW; each check is one index scan of the movement's entries).
CREATE FUNCTION alokon_check_movement_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad_lot bigint;
    net bigint;
BEGIN
    SELECT lot_id, sum(quantity) INTO bad_lot, net
      FROM inventory_ledgerentry
     WHERE movement_id = NEW.movement_id
     GROUP BY lot_id
    HAVING sum(quantity) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'alokon: movement % does not net to zero for lot % (net %)', NEW.movement_id, bad_lot, net
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledgerentry_movement_balanced
    AFTER INSERT ON inventory_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION alokon_check_movement_balanced();

-- 4. Virtual locations keep no balance row (and no running balance).
CREATE FUNCTION alokon_check_balance_location() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inventory_location WHERE id = NEW.location_id AND level = 'virtual') THEN
        RAISE EXCEPTION 'alokon: virtual location % keeps no stock balance', NEW.location_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER stockbalance_real_location
    BEFORE INSERT OR UPDATE OF location_id ON inventory_stockbalance
    FOR EACH ROW EXECUTE FUNCTION alokon_check_balance_location();
