//! The CAPIF plane's builder: scenario → invoker, CCF, AEF and APF machines.
