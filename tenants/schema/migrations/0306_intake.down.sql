DROP TABLE partners;
DROP TABLE intake;
