@echo off
rem kubectl (1.26 and later) runs this to complete `kubectl otterscale ...` on Windows.
kubectl-otterscale.exe __complete %*
