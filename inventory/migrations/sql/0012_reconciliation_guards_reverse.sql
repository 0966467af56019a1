DROP TRIGGER IF EXISTS servicefigure_history ON inventory_servicefigure;
DROP FUNCTION IF EXISTS alokon_servicefigure_history();
DROP TRIGGER IF EXISTS stockcountline_final ON inventory_stockcountline;
DROP FUNCTION IF EXISTS alokon_countline_final();
DROP TRIGGER IF EXISTS stockcount_final ON inventory_stockcount;
DROP FUNCTION IF EXISTS alokon_count_final();
DROP TRIGGER IF EXISTS discrepancy_final ON inventory_discrepancy;
DROP FUNCTION IF EXISTS alokon_discrepancy_final();
