DROP TABLE mail_drops;
