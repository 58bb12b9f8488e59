-- An insert-and-query workload for sqlite3: 20000 rows inserted in one transaction, an index,
-- then aggregates, joins, sorting and text search.
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount REAL, note TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO customers SELECT i, 'customer ' || i, 'city ' || (i % 97) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders SELECT i, (i * 7919) % 2000 + 1, (i * 31 % 1000) / 10.0, printf('order %d for %s', i, hex(i * 2654435761)) FROM n;
COMMIT;
CREATE INDEX orders_by_customer ON orders(customer);
SELECT city, count(*), round(sum(amount), 2) FROM orders JOIN customers ON customers.id = orders.customer GROUP BY city ORDER BY 3 DESC LIMIT 5;
SELECT name, count(*) AS n FROM customers JOIN orders ON orders.customer = customers.id GROUP BY name ORDER BY n DESC, name LIMIT 5;
SELECT count(*) FROM orders WHERE note LIKE '%A1%';
SELECT group_concat(note, ';') IS NOT NULL FROM (SELECT note FROM orders ORDER BY amount DESC LIMIT 3000);
UPDATE orders SET note = upper(note) WHERE amount > 50;
DELETE FROM orders WHERE customer % 3 = 0;
SELECT count(*), round(avg(amount), 3) FROM orders;
