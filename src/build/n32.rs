//! The N32 plane's builder: scenario → cNF, SEPP, RI and pNF machines.
