-- Reconciliation documents are final once decided, whatever code (or person) writes.

-- 1. A resolved discrepancy is never changed or removed (it cannot be resolved
--    twice), and an open one is never deleted: it is resolved.
CREATE FUNCTION alokon_discrepancy_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.status = 'resolved' THEN
        RAISE EXCEPTION 'alokon: % of discrepancy % is not allowed: a resolved discrepancy is final', TG_OP, OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER discrepancy_final
    BEFORE UPDATE OR DELETE ON inventory_discrepancy
    FOR EACH ROW EXECUTE FUNCTION alokon_discrepancy_final();

-- 2. An approved or rejected stock count, and its lines, are never changed.
CREATE FUNCTION alokon_count_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('approved', 'rejected') THEN
        RAISE EXCEPTION 'alokon: % of stock count % is not allowed: it was %', TG_OP, OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER stockcount_final
    BEFORE UPDATE OR DELETE ON inventory_stockcount
    FOR EACH ROW EXECUTE FUNCTION alokon_count_final();

CREATE FUNCTION alokon_countline_final() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    count_status text;
BEGIN
    SELECT status INTO count_status FROM inventory_stockcount
     WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.count_id ELSE OLD.count_id END;
    IF count_status IN ('approved', 'rejected') THEN
        RAISE EXCEPTION 'alokon: % of a line of stock count % is not allowed: it was %', TG_OP,
            CASE WHEN TG_OP = 'INSERT' THEN NEW.count_id ELSE OLD.count_id END, count_status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER stockcountline_final
    BEFORE INSERT OR UPDATE OR DELETE ON inventory_stockcountline
    FOR EACH ROW EXECUTE FUNCTION alokon_countline_final();

-- 3. Service figures: a replaced (no longer current) figure is history and never
--    changes; no figure is deleted. The only change to a current row other than its
--    values is becoming not current.
CREATE FUNCTION alokon_servicefigure_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NOT OLD.is_current OR (NEW.is_current AND NOT OLD.is_current) THEN
        RAISE EXCEPTION 'alokon: % of service figure % is not allowed: replaced figures are kept as they were',
            TG_OP, OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER servicefigure_history
    BEFORE UPDATE OR DELETE ON inventory_servicefigure
    FOR EACH ROW EXECUTE FUNCTION alokon_servicefigure_history();
