DROP TABLE space_exports;
