CREATE OR REPLACE FUNCTION alokon_check_movement_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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
